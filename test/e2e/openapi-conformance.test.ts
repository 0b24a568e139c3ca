import * as z from 'zod';
import { errorSchema } from '../../lambdas/core/api-schemas';
import { API_ROUTES, ROUTE_DOCS, RouteDoc } from '../../lambdas/core/openapi-document';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

/**
 * The document says what the API answers: each route is called on the local stack, and its
 * status and body must be among those its ROUTE_DOCS entry (hence the OpenAPI document) lists.
 */

const PROJECT = 'openapi-project';

let t: TestStack;
let receiver: Receiver;
let token: string;

beforeAll(async () => {
  receiver = await startReceiver();
  t = await startTestStack();
  token = t.tokenFor({ [PROJECT]: 'owner' }, 'openapi-user');
});

afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

interface Call {
  path: string;
  body?: unknown;
  token?: string | null;
  /** The call is expected to be refused with this documented error status. */
  expectError?: number;
}

/** Ids the calls refer to, made by the calls before them. */
const ids = { subscription: '', logId: '', asset: '' };

/** One successful call per route, in an order where each finds what it needs. */
const CALLS: [string, () => Call | Promise<Call>][] = [
  ['GET /events', () => ({ path: '/events' })],
  ['POST /{projectId}/subscriptions', () => ({ path: `/${PROJECT}/subscriptions`, body: { event: 'request.create', target: receiver.url } })],
  ['GET /{projectId}/subscriptions', () => ({ path: `/${PROJECT}/subscriptions` })],
  ['GET /{projectId}/subscriptions/{id}', () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}` })],
  ['PUT /{projectId}/subscriptions/{id}', () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}`, body: { status: 'active' } })],
  ['POST /{projectId}/subscriptions/{id}/test', () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}/test` })],
  [
    'GET /{projectId}/subscriptions/{id}/logs',
    async () => {
      await publish(t, [{ type: 'request.create', detail: { id_project: PROJECT, request_id: 'r1' } }]);
      const attempts = await eventually(async () => {
        const logged = await logsOf(t, PROJECT, ids.subscription);
        if (!logged.some((attempt) => !attempt.webhookId.startsWith('msg_test_'))) throw new Error('not delivered yet');
        return logged;
      });
      const delivered = attempts.find((attempt) => !attempt.webhookId.startsWith('msg_test_')) as unknown as { logId: string };
      ids.logId = delivered.logId;
      return { path: `/${PROJECT}/subscriptions/${ids.subscription}/logs?limit=10` };
    },
  ],
  ['GET /{projectId}/subscriptions/history', () => ({ path: `/${PROJECT}/subscriptions/history?limit=10` })],
  [
    'POST /{projectId}/subscriptions/{id}/logs/{logId}/retry',
    () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}/logs/${ids.logId}/retry` }),
  ],
  [
    'POST /{projectId}/subscriptions/{id}/recover',
    () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}/recover`, body: { since: '2026-01-01T00:00:00Z' } }),
  ],
  ['POST /{projectId}/subscriptions/{id}/rotate-secret', () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}/rotate-secret` })],
  ['DELETE /{projectId}/subscriptions/{id}/health', () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}/health` })],
  ['DELETE /{projectId}/subscriptions/{id}', () => ({ path: `/${PROJECT}/subscriptions/${ids.subscription}` })],
  [
    'POST /{projectId}/operator-select',
    () => ({ path: `/${PROJECT}/operator-select`, body: { operators: [{ id_user: 'u1' }], agents: [] }, token: t.platformToken() }),
  ],
  [
    'POST /{projectId}/events',
    () => ({ path: `/${PROJECT}/events`, body: { event: 'lead.create', payload: { id_project: PROJECT } }, token: t.platformToken() }),
  ],
  ['POST /{projectId}/events/example', () => ({ path: `/${PROJECT}/events/example`, body: { event: 'request.create' } })],
  // Not configured with Tiledesk's keys here: the documented refusal, in the error shape.
  ['POST /tiledesk/ingest', () => ({ path: '/tiledesk/ingest', body: { hook: {}, payload: {}, token: 'x' }, token: null, expectError: 401 })],
  ['GET /openapi.json', () => ({ path: '/openapi.json', token: null })],
  ['GET /console', () => ({ path: '/console', token: null })],
  ['GET /console/assets/{file}', () => ({ path: `/console/assets/${ids.asset}`, token: null })],
];

async function send(route: string, call: Call): Promise<{ status: number; text: string; contentType: string }> {
  const method = route.split(' ')[0] ?? 'GET';
  const callToken = call.token === undefined ? token : call.token;
  const response = await fetch(`${t.stack.apiUrl}${call.path}`, {
    method,
    headers: {
      ...(callToken ? { authorization: `Bearer ${callToken}` } : {}),
      ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
  });
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}

/** Fails with the route's name and what differs, when the answer is not one the document lists. */
function expectDocumentedAnswer(route: string, doc: RouteDoc, status: number, text: string, contentType: string): void {
  const answer = doc.success[status];
  expect({ route, status, documented: Object.keys(doc.success) }).toEqual({ route, status, documented: expect.arrayContaining([String(status)]) });
  if (!answer?.schema) {
    const mediaType = contentType.split(';')[0]?.trim();
    expect({ route, mediaType, documented: answer?.contentTypes ?? [] }).toEqual({ route, mediaType, documented: expect.arrayContaining([mediaType]) });
    return;
  }
  const body = JSON.parse(text) as unknown;
  const parsed = answer.schema.safeParse(body);
  expect({ route, issues: parsed.success ? [] : parsed.error.issues }).toEqual({ route, issues: [] });
  // zod drops unknown keys: an answer field the document does not describe fails here.
  if (answer.schema instanceof z.ZodObject && body && typeof body === 'object') {
    const described = Object.keys(answer.schema.shape as object);
    expect({ route, undescribed: Object.keys(body).filter((key) => !described.includes(key)) }).toEqual({ route, undescribed: [] });
  }
}

describe('the API answers as its OpenAPI document says', () => {
  test('there is a call below for every route of the document', () => {
    expect(CALLS.map(([route]) => route).sort()).toEqual([...API_ROUTES].sort());
  });

  test('each route succeeds with a documented status and body', async () => {
    for (const [route, makeCall] of CALLS) {
      if (route === 'GET /console/assets/{file}') {
        const page = await send('GET /console', { path: '/console', token: null });
        ids.asset = /\/console\/assets\/([^"]+\.js)"/.exec(page.text)?.[1] ?? '';
      }
      const call = await makeCall();
      const { status, text, contentType } = await send(route, call);
      if (call.expectError) {
        expect({ route, status, documented: ROUTE_DOCS[route]!.errors.includes(status as never) }).toEqual({ route, status: call.expectError, documented: true });
        expect([route, errorSchema.safeParse(JSON.parse(text)).success]).toEqual([route, true]);
        continue;
      }
      if (route === 'POST /{projectId}/subscriptions') ids.subscription = (JSON.parse(text) as { _id: string })._id;
      expectDocumentedAnswer(route, ROUTE_DOCS[route]!, status, text, contentType);
    }
  });

  test("history's Tiledesk paging (?page=N) answers a documented body too", async () => {
    const { status, text, contentType } = await send('GET /{projectId}/subscriptions/history', { path: `/${PROJECT}/subscriptions/history?page=0` });
    expectDocumentedAnswer('GET /{projectId}/subscriptions/history', ROUTE_DOCS['GET /{projectId}/subscriptions/history']!, status, text, contentType);
    expect(Array.isArray(JSON.parse(text))).toBe(true);
  });

  test('each route that needs a token answers a documented 401 error without one', async () => {
    for (const route of API_ROUTES.filter((candidate) => !ROUTE_DOCS[candidate]?.public)) {
      const path = route.split(' ')[1]!.replace('{projectId}', PROJECT).replace(/\{\w+\}/g, 'x1');
      const { status, text } = await send(route, { path, token: null, body: route.startsWith('GET') ? undefined : {} });
      expect([route, status]).toEqual([route, 401]);
      expect([route, errorSchema.safeParse(JSON.parse(text)).success]).toEqual([route, true]);
    }
  });

  test('each route documented with a 404 answers it, with the error body, for an unknown id', async () => {
    const withNotFound = API_ROUTES.filter((route) => ROUTE_DOCS[route]?.errors.includes(404));
    expect(withNotFound.length).toBeGreaterThan(5);
    for (const route of withNotFound) {
      const path = route.split(' ')[1]!.replace('{projectId}', PROJECT).replace(/\{\w+\}/g, 'unknown1');
      const body = route.endsWith('/recover') ? { since: '2026-01-01T00:00:00Z' } : route.startsWith('PUT') ? { status: 'active' } : undefined;
      const { status, text } = await send(route, { path, body, token: route.includes('/console/') ? null : token });
      expect([route, status]).toEqual([route, 404]);
      expect([route, errorSchema.safeParse(JSON.parse(text)).success]).toEqual([route, true]);
    }
  });
});
