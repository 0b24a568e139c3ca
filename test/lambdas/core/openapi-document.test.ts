import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { API_ROUTES, ROUTE_DOCS, buildOpenApiDocument, undocumentedRoutes } from '../../../lambdas/core/openapi-document';
import { OPENAPI_FILE, openApiFileText } from '../../../bin/openapi';
import { StackTemplate } from '../../lib/stack-template';

type Operation = { security?: unknown[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } };
const document = buildOpenApiDocument() as { paths: Record<string, Record<string, Operation>> };

/** `METHOD /path` of every operation in the document. */
const documentedRoutes = Object.entries(document.paths).flatMap(([route, operations]) =>
  Object.keys(operations).map((method) => `${method.toUpperCase()} ${route}`),
);

const operationOf = (route: string): Operation => {
  const [method = '', routePath = ''] = route.split(' ');
  return document.paths[routePath]![method.toLowerCase()]!;
};

let template: StackTemplate;
beforeAll(() => {
  template = StackTemplate.synth();
});

describe('the OpenAPI document', () => {
  test('is a valid OpenAPI 3.1 document for an independent validator', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document));
      // The validator is ESM-only and reads its schemas through import.meta: run its CLI.
      const cli = path.join(path.dirname(require.resolve('@seriousme/openapi-schema-validator/package.json')), 'bin', 'validate-api-cli.js');
      let output: string;
      try {
        output = execFileSync(process.execPath, [cli, file], { encoding: 'utf8' });
      } catch (error) {
        output = String((error as { stdout?: string }).stdout);
      }
      expect(JSON.parse(output)).toEqual({ valid: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('describes every route of the route lists (a route added without a description fails here)', () => {
    // Add an entry to ROUTE_DOCS in lambdas/core/openapi-document.ts for each route named here.
    expect({ routesWithoutDescription: undocumentedRoutes() }).toEqual({ routesWithoutDescription: [] });
    expect(undocumentedRoutes([...API_ROUTES, 'POST /{projectId}/made-up'])).toEqual(['POST /{projectId}/made-up']);
  });

  test('holds exactly the routes the stack deploys', () => {
    // A route deployed but not documented: add it to API_ROUTES (or to the settings list it
    // comes from) and describe it in ROUTE_DOCS, both in lambdas/core/openapi-document.ts.
    const routeKeys = Object.values(template.resources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey as string,
    );
    expect({ deployedButNotDocumented: routeKeys.filter((route) => !documentedRoutes.includes(route)) }).toEqual({
      deployedButNotDocumented: [],
    });
    expect({ documentedButNotDeployed: documentedRoutes.filter((route) => !routeKeys.includes(route)) }).toEqual({
      documentedButNotDeployed: [],
    });
    expect(Object.keys(ROUTE_DOCS).sort()).toEqual([...API_ROUTES].sort());
  });

  test('only /openapi.json, the console and Tiledesk ingest take no API token; every other route declares its token and the 401', () => {
    const publicRoutes = documentedRoutes.filter((route) => Array.isArray(operationOf(route).security) && operationOf(route).security!.length === 0);
    expect(publicRoutes.sort()).toEqual(['GET /console', 'GET /console/assets/{file}', 'GET /openapi.json', 'POST /tiledesk/ingest']);
    for (const route of documentedRoutes.filter((candidate) => !publicRoutes.includes(candidate))) {
      expect([route, operationOf(route).responses['401']]).toEqual([route, { $ref: '#/components/responses/Unauthorized' }]);
    }
    const authorization = Object.fromEntries(
      Object.values(template.resources('AWS::ApiGatewayV2::Route')).map((route) => [route.Properties.RouteKey, route.Properties.AuthorizationType]),
    );
    for (const route of documentedRoutes) expect([route, authorization[route]]).toEqual([route, publicRoutes.includes(route) ? 'NONE' : 'CUSTOM']);
  });

  test('describes request bodies from the handlers’ schemas, and errors with the error shape', () => {
    const create = operationOf('POST /{projectId}/subscriptions');
    const body = create.requestBody!.content['application/json']!.schema;
    expect(body).toMatchObject({ type: 'object', required: ['event', 'target'], additionalProperties: false });
    expect(create.responses['400']).toEqual({ $ref: '#/components/responses/BadRequest' });
    expect(create.responses['409']).toEqual({ $ref: '#/components/responses/Conflict' });
    const components = (buildOpenApiDocument() as { components: { schemas: Record<string, unknown> } }).components;
    expect(components.schemas.Error).toMatchObject({
      type: 'object',
      properties: { success: { const: false }, msg: { type: 'string' } },
      required: ['success', 'msg'],
    });
  });

  test('docs/openapi.json is what `npm run openapi` writes now', () => {
    // When this fails, run `npm run openapi` and commit docs/openapi.json.
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(openApiFileText());
  });
});
