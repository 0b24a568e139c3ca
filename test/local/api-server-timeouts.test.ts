// The local HTTP API stops waiting as API Gateway does: a function past its own timeout is a
// Lambda error (500); an integration past its timeout, shorter than the function's, is 503.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiServer, LocalRoute, startApiServer } from '../../local/api-server';

const hang = () => new Promise<APIGatewayProxyStructuredResultV2>(() => undefined);
const quick = async (): Promise<APIGatewayProxyStructuredResultV2> => ({ statusCode: 200, body: 'ok' });
const throws = async (): Promise<APIGatewayProxyStructuredResultV2> => {
  throw new Error('secret internals: table tiledesk-webhooks-table at 10.0.0.7');
};
const echoQuery = async (event: { queryStringParameters?: Record<string, string> }): Promise<APIGatewayProxyStructuredResultV2> => ({
  statusCode: 200,
  body: JSON.stringify(event.queryStringParameters ?? {}),
});
/** 3.5 MB of quotes: 7 MB of result JSON once escaped into the result's `body` string. */
const quoted = async (): Promise<APIGatewayProxyStructuredResultV2> => ({ statusCode: 200, body: '"'.repeat(3.5 * 1024 * 1024) });

let api: ApiServer;
beforeAll(async () => {
  const route = (routeKey: string, handler: LocalRoute['handler'], timeoutSeconds: number, integrationTimeoutMs?: number): LocalRoute => ({
    routeKey,
    functionName: routeKey,
    handler,
    timeoutSeconds,
    integrationTimeoutMs,
  });
  /** A quick route behind an authorizer that answers `answer`, with a 1 s timeout. */
  const guarded = (routeKey: string, answer: () => Promise<unknown>): LocalRoute => ({
    ...route(routeKey, quick as LocalRoute['handler'], 1),
    authorizer: { functionName: `${routeKey} authorizer`, handler: answer as never, timeoutSeconds: 1 },
  });
  api = await startApiServer({
    port: 0,
    routes: [
      route('GET /function-times-out', hang as LocalRoute['handler'], 1),
      route('GET /integration-times-out', hang as LocalRoute['handler'], 3, 500),
      route('GET /quick', quick as LocalRoute['handler'], 1, 500),
      route('GET /throws', throws as LocalRoute['handler'], 1),
      route('GET /echo-query', echoQuery as LocalRoute['handler'], 1),
      route('GET /quoted', quoted as LocalRoute['handler'], 3),
      guarded('GET /slow-authorizer', async () => new Promise((resolve) => setTimeout(() => resolve({ isAuthorized: true }), 1_500))),
      guarded('GET /string-authorizer', async () => ({ isAuthorized: 'false' })),
      guarded('GET /denying-authorizer', async () => ({ isAuthorized: false })),
    ],
  });
});
afterAll(() => api.stop());

async function timed(path: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = Date.now();
  const reply = await fetch(`${api.url}${path}`);
  return { status: reply.status, body: await reply.json().catch(() => undefined), ms: Date.now() - started };
}

test('a function that runs past its timeout answers 500, at its timeout', async () => {
  const reply = await timed('/function-times-out');
  expect(reply.status).toBe(500);
  expect(reply.body).toEqual({ message: 'Internal Server Error' });
  expect(reply.ms).toBeGreaterThanOrEqual(950);
});

test('an integration timeout shorter than the function’s answers 503, at the integration timeout', async () => {
  const reply = await timed('/integration-times-out');
  expect(reply.status).toBe(503);
  expect(reply.body).toEqual({ message: 'Service Unavailable' });
  expect(reply.ms).toBeGreaterThanOrEqual(450);
  expect(reply.ms).toBeLessThan(2500);
});

test('a function that answers in time is passed through', async () => {
  const reply = await timed('/quick');
  expect(reply.status).toBe(200);
});

test("a function's error answers 500 with API Gateway's words and nothing of the error", async () => {
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const reply = await fetch(`${api.url}/throws`);
    expect(reply.status).toBe(500);
    expect(await reply.text()).toBe(JSON.stringify({ message: 'Internal Server Error' }));
  } finally {
    stderr.mockRestore();
  }
});

test('a query parameter given twice reaches the function as payload 2.0 gives it: its values joined by commas', async () => {
  const reply = await fetch(`${api.url}/echo-query?page=0&page=1&limit=5&__proto__=x`);
  // Own keys all, `__proto__` too, as API Gateway passes any name.
  expect(Object.entries(JSON.parse(await reply.text()) as object)).toEqual([
    ['page', '0,1'],
    ['limit', '5'],
    ['__proto__', 'x'],
  ]);
});

test("a result over Lambda's 6 MB once serialized answers 502, as the invocation fails", async () => {
  const reply = await fetch(`${api.url}/quoted`);
  expect(reply.status).toBe(502);
  expect(await reply.json()).toEqual({ message: 'Internal Server Error' });
});

test('an authorizer past its timeout, or answering anything but a boolean isAuthorized, is an error (500); the route never runs', async () => {
  const slow = await timed('/slow-authorizer');
  expect(slow).toMatchObject({ status: 500, body: { message: 'Internal Server Error' } });
  expect(slow.ms).toBeLessThan(1_450);
  expect(await timed('/string-authorizer')).toMatchObject({ status: 500, body: { message: 'Internal Server Error' } });
  expect(await timed('/denying-authorizer')).toMatchObject({ status: 403, body: { message: 'Forbidden' } });
});
