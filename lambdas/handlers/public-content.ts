import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { NotFoundError } from '../core/errors';
import { buildOpenApiDocument } from '../core/openapi-document';
import { readConfig } from '../adapters/config';
import { instrument } from '../adapters/observability';
import { ApiEvent, ApiResult, errorResponse } from './http-response';

const config = readConfig(
  z.object({
    /** The built console (`npm run build:console`), relative to this file's folder; bundled beside it on AWS. */
    CONSOLE_DIR: z.string().min(1).default('console'),
  }),
);
const consoleDir = path.resolve(__dirname, config.CONSOLE_DIR);

/**
 * The console may load only its own files and call only its own origin: no inline script or
 * style, no framing, no form posts elsewhere, no referrer to leak the page's URL.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const TEXT_TYPES = new Set(['.html', '.js', '.css', '.svg']);

interface ConsoleFile {
  body: string;
  base64: boolean;
  contentType: string;
}

/** Read once per container: the console is small and never changes under a running function. */
let consoleFiles: { page: ConsoleFile; assets: Map<string, ConsoleFile> } | undefined;

function loadConsole(): NonNullable<typeof consoleFiles> {
  if (consoleFiles) return consoleFiles;
  const read = (file: string): ConsoleFile => {
    const extension = path.extname(file);
    const base64 = !TEXT_TYPES.has(extension);
    const content = readFileSync(file);
    return {
      body: base64 ? content.toString('base64') : content.toString('utf8'),
      base64,
      contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
    };
  };
  const assetsDir = path.join(consoleDir, 'assets');
  const assets = new Map(readdirSync(assetsDir).map((name) => [name, read(path.join(assetsDir, name))]));
  consoleFiles = { page: read(path.join(consoleDir, 'index.html')), assets };
  return consoleFiles;
}

let openApiBody: string | undefined;

/**
 * `GET /openapi.json`, `GET /console` and `GET /console/assets/{file}`: public, no token. The
 * document is generated from the handlers' zod schemas at the first request; the console's
 * files are the build bundled with this function, served only by exact name.
 */
export async function servePublicContent(event: ApiEvent): Promise<ApiResult> {
  try {
    if (event.routeKey === 'GET /openapi.json') {
      openApiBody ??= JSON.stringify(buildOpenApiDocument());
      return { statusCode: 200, headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*' }, body: openApiBody };
    }
    const files = loadConsole();
    if (event.routeKey === 'GET /console') return fileResponse(files.page, 'no-cache');
    const asset = files.assets.get(event.pathParameters?.file ?? '');
    if (!asset) throw new NotFoundError(`no console asset ${event.pathParameters?.file ?? ''}`);
    // Asset names carry a content hash: a new build never reuses one.
    return fileResponse(asset, 'public, max-age=31536000, immutable');
  } catch (error) {
    return errorResponse(error);
  }
}

function fileResponse(file: ConsoleFile, cacheControl: string): ApiResult {
  return {
    statusCode: 200,
    headers: { 'content-type': file.contentType, 'cache-control': cacheControl, ...SECURITY_HEADERS },
    body: file.body,
    isBase64Encoded: file.base64,
  };
}

export const handler = instrument(servePublicContent, { metrics: false });
