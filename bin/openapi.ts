#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildOpenApiDocument, undocumentedRoutes } from '../lambdas/core/openapi-document';

/** The committed copy of the document (`npm run openapi`); a test keeps it equal to the generator's. */
export const OPENAPI_FILE = path.join(__dirname, '..', 'docs', 'openapi.json');

/** The document as written to the file: stable key order, two-space indent, final newline. */
export const openApiFileText = (): string => `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;

if (require.main === module) {
  const missing = undocumentedRoutes();
  if (missing.length > 0) {
    console.error(`routes without a description in ROUTE_DOCS (lambdas/core/openapi-document.ts): ${missing.join(', ')}`);
    process.exit(1);
  }
  writeFileSync(OPENAPI_FILE, openApiFileText());
  console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
}
