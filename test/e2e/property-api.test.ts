import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { EVENT_CATALOG } from '../../lambdas/core/event-catalog';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { SUBSCRIPTION_VIEW_KEYS } from '../support/api-expectations';
import { Receiver, startReceiver } from '../support/receiver';

/**
 * Property tests of the subscription API against the running local stack: whatever a client
 * sends — bodies, headers, path segments — the answer is never a 5xx, and every 4xx from a
 * handler has the contract's error shape `{success: false, msg}` (DESIGN §3).
 */

const PROJECT = 'proj-prop';
/** `PROPERTY_RUNS=5000 npx jest test/e2e/property-api` searches harder than the default run. */
const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

let t: TestStack;
let hook: Receiver;
let ownerToken: string;
let apiPort: number;
const seedIds: string[] = [];
const createdIds = new Set<string>();

beforeAll(async () => {
  // Thousands of requests in a minute: the stage's throttle (API Gateway's own 429, not the
  // handlers') is raised as a deployment can (`apiThrottleRate`), so the handlers' answers are tested.
  t = await startTestStack({ apiThrottle: { rateLimit: 100_000, burstLimit: 100_000 } });
  hook = await startReceiver();
  ownerToken = t.tokenFor({ [PROJECT]: 'owner' });
  apiPort = Number(new URL(t.stack.apiUrl).port);
  for (const event of ['request.create', 'lead.create', 'event.emit.typing.start']) {
    const reply = await t.api('POST', `/${PROJECT}/subscriptions`, { token: ownerToken, body: { event, target: hook.url } });
    if (reply.status !== 200) throw new Error(`seed failed: ${reply.status} ${reply.text}`);
    seedIds.push(String(reply.body._id));
  }
});
afterAll(async () => {
  await hook.close();
  await t.stop();
});

interface RawReply {
  status: number;
  text: string;
  json: unknown;
}

/**
 * Sends a request exactly as given: the path is not normalised or re-encoded by a client URL
 * parser, so `..`, `%2F` and malformed escapes reach the server as written.
 */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: apiPort, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const ROUTER_ANSWERS: Record<number, string | undefined> = { 404: 'Not Found', 400: 'Bad Request' };

/** The API's answer to anything: below 500, and a 4xx carries the contract error body. */
function expectContractReply(what: string, reply: RawReply): void {
  const shown = `${what} -> ${reply.status} ${reply.text.slice(0, 300)}`;
  if (reply.status >= 500) throw new Error(`server error: ${shown}`);
  if (reply.status >= 400) {
    // The API's own router (not a handler) answers as API Gateway does: `{message}` only,
    // for an unknown route (404) or a request it cannot read (400).
    const routerAnswer = ROUTER_ANSWERS[reply.status];
    if (routerAnswer && isRecord(reply.json) && reply.json.message === routerAnswer && Object.keys(reply.json).length === 1) {
      return;
    }
    const body = reply.json;
    if (!isRecord(body) || body.success !== false || typeof body.msg !== 'string' || body.msg.length === 0) {
      throw new Error(`4xx without {success:false, msg}: ${shown}`);
    }
    if ('errors' in body) {
      const errors = body.errors;
      const wellFormed =
        Array.isArray(errors) &&
        errors.every((error) => isRecord(error) && typeof error.field === 'string' && typeof error.message === 'string');
      if (!wellFormed) throw new Error(`malformed field errors: ${shown}`);
    }
  } else if (reply.status < 200 || reply.status >= 300) {
    throw new Error(`unexpected status: ${shown}`);
  }
}

// ---- arbitraries -------------------------------------------------------------------------

/** A character Node's HTTP client accepts in a header value (tab, printable ASCII, Latin-1). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09),
).map((code) => String.fromCharCode(code));
const headerText = (maxLength = 200): fc.Arbitrary<string> => fc.string({ unit: headerChar, maxLength });

/**
 * A character a client may write unescaped in a path (printable ASCII), minus the URL
 * delimiters; anything else is sent percent-encoded, as RFC 3986 requires.
 */
const rawPathChar = fc
  .integer({ min: 0x21, max: 0x7e })
  .filter((code) => ![0x2f, 0x3f, 0x23, 0x7f].includes(code))
  .map((code) => String.fromCharCode(code));

const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'];

/** A path segment as a client could write it: encoded unicode, traversal, escapes, very long. */
const segmentArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map((text) => Buffer.from(text, 'utf8').toString('hex')),
  fc.string({ unit: rawPathChar, minLength: 1, maxLength: 40 }),
  fc.constantFrom(
    '..', '.', '%2F', '%2f', '..%2F..', '%2e%2e', '%2E%2E%2F', '%00', '%', '%zz', '%E0%A4%A', '%C0%AF', '%FF', '%ED%A0%80',
    'a%2Fb', '~', '%20', '+', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'history', 'subscriptions',
    'null', 'undefined', '0', '-', '_', 'a'.repeat(64), 'a'.repeat(65),
  ),
  fc.integer({ min: 65, max: 2500 }).chain((length) =>
    fc.string({ unit: fc.constantFrom(...ALNUM), minLength: length, maxLength: length }),
  ),
);

const PUBLISHED = EVENT_CATALOG.map((entry) => entry.event as string);

/** A target: mostly the loopback receiver, sometimes anything a user could type. */
const targetArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...ALNUM), maxLength: 12 }).map((q) => `${hook.url}?k=${q}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.1/hook',
      'http://[::ffff:127.0.0.1]/x',
      'http://0x7f000001/x',
      'http://user:pw@127.0.0.1/x',
      'ftp://127.0.0.1/x',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'http://',
      'https://no-such-host.invalid/hook',
      `http://127.0.0.1:${'9'.repeat(10)}/x`,
      `http://127.0.0.1/${'x'.repeat(2100)}`,
    ),
  },
  { weight: 1, arbitrary: fc.string() },
  { weight: 1, arbitrary: fc.jsonValue() },
);

const eventArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PUBLISHED) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme' }).map((name) => `event.emit.${name}`) },
  { weight: 1, arbitrary: fc.string() },
  { weight: 1, arbitrary: fc.jsonValue() },
);

/** Subscription-shaped bodies: right and wrong fields, types and values. */
const subscriptionLikeArb = fc.oneof(
  // Valid or nearly so: a catalog event and a target, sometimes a status (PUT only).
  fc
    .record(
      { event: fc.constantFrom(...PUBLISHED), target: targetArb, status: fc.constantFrom('active', 'disabled') },
      { requiredKeys: ['event', 'target'] },
    )
    .map((body) => JSON.stringify(body)),
  // Anything in each field, and now and then fields the API does not know.
  fc
    .record(
      {
        event: eventArb,
        target: targetArb,
        status: fc.oneof(fc.constantFrom('active', 'disabled'), fc.jsonValue()),
        extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { minKeys: 1, maxKeys: 2 }),
      },
      { requiredKeys: [] },
    )
    .map(({ extra, ...fields }) => JSON.stringify({ ...(extra ?? {}), ...fields })),
);

/** A request body as text, or none. */
const bodyArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 3, arbitrary: subscriptionLikeArb },
  { weight: 1, arbitrary: fc.anything().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.object().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 50 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '{}', '{"event":', '\u0000', '{"__proto__":{"event":"lead.create"}}') },
);

const contentTypeArb: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
  fc.constantFrom('multipart/form-data; boundary=x', 'application/octet-stream', ''),
  headerText(80),
  fc.constant(undefined),
);

const b64url = (value: string): string => Buffer.from(value).toString('base64url');

/** A token signed with the stack's real secret over any header and claims JSON. */
function signRaw(headerJson: string, payloadJson: string): string {
  const unsigned = `${b64url(headerJson)}.${b64url(payloadJson)}`;
  return `${unsigned}.${createHmac('sha256', t.jwtSecret).update(unsigned).digest('base64url')}`;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Claims of every shape, some of them valid. */
const claimsJsonArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .record(
      {
        sub: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue()),
        exp: fc.oneof(
          fc.integer({ min: 60, max: 86_400 }).map((ttl) => nowSeconds() + ttl),
          fc.integer({ min: 0, max: 86_400 }).map((ago) => nowSeconds() - ago),
          fc.double(),
          fc.jsonValue(),
        ),
        projects: fc.oneof(
          fc.dictionary(
            fc.oneof(fc.constant(PROJECT), fc.string({ maxLength: 20 })),
            fc.oneof(fc.constantFrom('owner', 'admin', 'agent'), fc.jsonValue()),
            { maxKeys: 3 },
          ),
          fc.jsonValue(),
        ),
        platform: fc.oneof(fc.boolean(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    .map((claims) => JSON.stringify(claims)),
  fc.constant(`{"sub":"u","exp":${nowSeconds() + 3600},"projects":{"__proto__":"owner","${PROJECT}":"owner"}}`),
  fc.constant(`{"sub":"u","exp":${nowSeconds() + 3600},"projects":{"constructor":"owner"}}`),
  fc.json(),
);

const headerJsonArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('{"alg":"HS256","typ":"JWT"}') },
  { weight: 1, arbitrary: fc.constantFrom('{"alg":"none"}', '{"alg":"RS256"}', '{"alg":"hs256"}', '{}', 'null', '"x"') },
  { weight: 1, arbitrary: fc.json() },
);

/** Authorization header values: garbage, near-misses of the two schemes, and signed tokens. */
const authorizationArb: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  headerText(),
  fc.constantFrom('Bearer', 'Bearer ', 'JWT', 'Basic dXNlcjpwdw==', 'Bearer a.b', 'Bearer a.b.c', 'Bearer ...', 'bearer x.y.z'),
  fc.tuple(fc.constantFrom('Bearer ', 'JWT ', 'bearer ', 'jwt  ', ''), headerText(120)).map(([scheme, rest]) => `${scheme}${rest}`),
  fc
    .tuple(fc.constantFrom('Bearer ', 'JWT '), headerJsonArb, claimsJsonArb)
    .map(([scheme, header, claims]) => `${scheme}${signRaw(header, claims)}`),
  fc.tuple(fc.constantFrom('Bearer ', 'JWT '), fc.string({ unit: fc.constantFrom(...ALNUM), maxLength: 4 })).map(
    ([scheme, tail]) => `${scheme}${ownerToken}${tail}`,
  ),
  // Mapped, so the token is read once beforeAll has made it.
  fc.constant(undefined).map(() => `Bearer ${ownerToken}`),
);

function headersOf(authorization: string | undefined, contentType: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (contentType !== undefined) headers['content-type'] = contentType;
  return headers;
}

/** An owner token, sometimes for the project the path names, so requests get past the 403. */
const tokenForArb = (projectSegment: string): fc.Arbitrary<string> =>
  fc.constantFrom(ownerToken, ownerToken, t.tokenFor({ [safeDecode(projectSegment)]: 'owner' }), t.platformToken());

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Records a subscription a create made (or answered with, for a duplicate: 200 either way). */
function recordCreated(method: string, path: string, reply: RawReply): void {
  if (method !== 'POST' || path !== `/${PROJECT}/subscriptions`) return;
  if (reply.status === 200 && isRecord(reply.json) && typeof reply.json._id === 'string' && reply.json.id_project === PROJECT) {
    createdIds.add(reply.json._id);
    expect(String(reply.json.secret)).toMatch(/^whsec_/);
  }
}

// ---- properties --------------------------------------------------------------------------

describe('the subscription API under random input', () => {
  test('POST /{projectId}/subscriptions with any body and content-type', async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, contentTypeArb, async (body, contentType) => {
        const path = `/${PROJECT}/subscriptions`;
        const reply = await send('POST', path, headersOf(`Bearer ${ownerToken}`, contentType), body);
        expectContractReply(`POST ${path} ${body?.slice(0, 200)}`, reply);
        recordCreated('POST', path, reply);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('PUT /{projectId}/subscriptions/{id} with any body, on real and random ids', async () => {
    const idArb = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...seedIds) }, { weight: 1, arbitrary: segmentArb });
    await fc.assert(
      fc.asyncProperty(idArb, bodyArb, contentTypeArb, async (id, body, contentType) => {
        const path = `/${PROJECT}/subscriptions/${id}`;
        const reply = await send('PUT', path, headersOf(`Bearer ${ownerToken}`, contentType), body);
        expectContractReply(`PUT ${path.slice(0, 200)} ${body?.slice(0, 200)}`, reply);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('GET and POST on any path segments', async () => {
    const routeArb = fc.constantFrom(
      (p: string) => `/${p}/subscriptions`,
      (_p: string, id: string) => `/${PROJECT}/subscriptions/${id}`,
      (p: string, id: string) => `/${p}/subscriptions/${id}`,
      (p: string, id: string) => `/${p}/subscriptions/${id}/logs`,
      (p: string) => `/${p}/subscriptions/history`,
      (p: string, id: string) => `/${PROJECT}/${p}/${id}`,
      (p: string, id: string) => `/${p}/subscriptions/${id}/rotate-secret/${p}`,
      (p: string) => `/${p}`,
    );
    const scenario = fc
      .tuple(segmentArb, fc.oneof(segmentArb, fc.constantFrom(...seedIds)), routeArb, fc.constantFrom('GET', 'POST'), bodyArb)
      .chain(([projectSegment, idSegment, route, method, body]) =>
        fc.record({
          path: fc.constant(route(projectSegment, idSegment)),
          method: fc.constant(method),
          body: fc.constant(method === 'POST' ? body : undefined),
          token: tokenForArb(projectSegment),
        }),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ path, method, body, token }) => {
        const reply = await send(method, path, headersOf(`Bearer ${token}`, body === undefined ? undefined : 'application/json'), body);
        expectContractReply(`${method} ${path.slice(0, 300)}`, reply);
        recordCreated(method, path, reply);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('any Authorization and content-type header on each route', async () => {
    const routeArb = fc.constantFrom(
      ['GET', `/${PROJECT}/subscriptions`],
      ['POST', `/${PROJECT}/subscriptions`],
      ['GET', `/${PROJECT}/subscriptions/history`],
      ['GET', '/events'],
      ['PUT', `/${PROJECT}/subscriptions/SEED`],
      ['GET', `/${PROJECT}/subscriptions/SEED`],
      ['GET', `/${PROJECT}/subscriptions/SEED/logs`],
    );
    await fc.assert(
      fc.asyncProperty(routeArb, authorizationArb, contentTypeArb, bodyArb, async ([method, template], authorization, contentType, body) => {
        const path = template!.replace('SEED', seedIds[0]!);
        const sent = method === 'GET' ? undefined : body;
        const reply = await send(method!, path, headersOf(authorization, contentType), sent);
        expectContractReply(`${method} ${path} authorization=${JSON.stringify(authorization)?.slice(0, 300)}`, reply);
        if (authorization === undefined) expect(reply.status).toBe(401);
        recordCreated(method!, path, reply);
      }),
      { numRuns: 200 },
    );
  });

  test('GET logs and history with any limit and cursor', async () => {
    const logsKey = (id: string): Record<string, string> => ({ pk: `LOGS#${PROJECT}#${id}` });
    const historyKey = { gsi2pk: `HISTORY#${PROJECT}` };
    const cursorArb = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.jsonValue().map((value) => b64url(JSON.stringify(value) ?? '')),
      // Cursors naming this very listing, with any other attributes: only the key is checked.
      fc
        .tuple(fc.boolean(), fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue(), { maxKeys: 3 }))
        .map(([history, extra]) => b64url(JSON.stringify({ ...extra, ...(history ? historyKey : logsKey(seedIds[0]!)) }))),
      fc
        .tuple(fc.boolean(), fc.jsonValue())
        .map(([history, sk]) => b64url(JSON.stringify(history ? { ...historyKey, gsi2sk: sk } : { ...logsKey(seedIds[0]!), sk }))),
      // Exactly the start-key attributes of the listing, as strings of any content (even empty).
      fc
        .tuple(fc.boolean(), fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }))
        .map(([history, a, b, c]) =>
          b64url(JSON.stringify(history ? { pk: a, sk: b, ...historyKey, gsi2sk: c } : { ...logsKey(seedIds[0]!), sk: a })),
        ),
    );
    const limitArb = fc.oneof(fc.integer({ min: -5, max: 500 }).map(String), fc.string({ maxLength: 10 }), fc.constantFrom('1e2', '0x10', ' 5', 'NaN'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(`/${PROJECT}/subscriptions/history`, `/${PROJECT}/subscriptions/SEED/logs`),
        fc.option(limitArb, { nil: undefined }),
        fc.option(cursorArb, { nil: undefined }),
        async (template, limit, cursor) => {
          const query = new URLSearchParams();
          if (limit !== undefined) query.set('limit', limit);
          if (cursor !== undefined) query.set('cursor', cursor);
          const path = `${template.replace('SEED', seedIds[0]!)}?${query.toString()}`;
          const reply = await send('GET', path, headersOf(`Bearer ${ownerToken}`, undefined));
          expectContractReply(`GET ${path} (cursor ${cursor === undefined ? '-' : Buffer.from(cursor, 'base64url').toString()})`, reply);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  test("the project's subscriptions are still consistent afterwards", async () => {
    const reply = await send('GET', `/${PROJECT}/subscriptions`, headersOf(`Bearer ${ownerToken}`, undefined));
    expect(reply.status).toBe(200);
    expect(Array.isArray(reply.json)).toBe(true);
    const list = reply.json as Record<string, unknown>[];
    const allowedKeys = new Set([...SUBSCRIPTION_VIEW_KEYS, 'disabledReason']);
    for (const item of list) {
      expect(isRecord(item)).toBe(true);
      for (const key of SUBSCRIPTION_VIEW_KEYS) expect(item).toHaveProperty(key);
      expect(Object.keys(item).filter((key) => !allowedKeys.has(key))).toEqual([]);
      expect(item.id_project).toBe(PROJECT);
      expect(['active', 'disabled']).toContain(item.status);
    }
    const ids = list.map((item) => String(item._id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([...seedIds, ...createdIds]));
    expect(list.length).toBeLessThanOrEqual(100);
    // One subscription per (event, target), and a single operator.select (DESIGN §3, 409).
    const pairs = list.map((item) => `${String(item.event)} ${String(item.target)}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(list.filter((item) => item.event === 'operator.select').length).toBeLessThanOrEqual(1);
    // Every listed subscription reads back the same on its own.
    for (const item of list) {
      const one = await send('GET', `/${PROJECT}/subscriptions/${String(item._id)}`, headersOf(`Bearer ${ownerToken}`, undefined));
      expect(one.status).toBe(200);
      expect(one.json).toEqual(item);
    }
  });
});

/** Inputs the properties found to give a 500; kept as plain examples to name each bug. */
describe('regressions found by the properties', () => {
  test.each(['/%zz/subscriptions', `/${PROJECT}/subscriptions/%E0%A4%A`, `/${PROJECT}/subscriptions/%`])(
    'a malformed percent-escape in the path (%s) is a 4xx, not a 500',
    async (path) => {
      const reply = await send('GET', path, headersOf(`Bearer ${ownerToken}`, undefined));
      expectContractReply(`GET ${path}`, reply);
      expect(reply.status).toBeGreaterThanOrEqual(400);
    },
  );

  test.each(['/\\<!/subscriptions', '//x/subscriptions', `/${PROJECT}\\..\\x/subscriptions`])(
    'a path a URL parser would rewrite (%s) reaches the router as sent and is a 4xx, not a 500',
    async (path) => {
      const reply = await send('GET', path, headersOf(`Bearer ${ownerToken}`, undefined));
      expectContractReply(`GET ${path}`, reply);
      expect(reply.status).toBeGreaterThanOrEqual(400);
    },
  );

  test.each([
    ['logs, key without its sort key', 'LOGS', { pk: 'KEY' }],
    ['logs, sort key of the wrong type', 'LOGS', { pk: 'KEY', sk: 5 }],
    ['history, index key only', 'HISTORY', { gsi2pk: 'KEY' }],
    ['history, index keys without the table keys', 'HISTORY', { gsi2pk: 'KEY', gsi2sk: 'x' }],
    ['logs, empty sort key', 'LOGS', { pk: 'KEY', sk: '' }],
    ['history, empty table and index sort keys', 'HISTORY', { pk: '', sk: '', gsi2pk: 'KEY', gsi2sk: '' }],
  ])('a cursor naming the listing but not a valid start key (%s) is a 400, not a 500', async (_name, listing, key) => {
    const keyValue = listing === 'LOGS' ? `LOGS#${PROJECT}#${seedIds[0]}` : `HISTORY#${PROJECT}`;
    const cursor = b64url(JSON.stringify(Object.fromEntries(Object.entries(key).map(([k, v]) => [k, v === 'KEY' ? keyValue : v]))));
    const route = listing === 'LOGS' ? `/${PROJECT}/subscriptions/${seedIds[0]}/logs` : `/${PROJECT}/subscriptions/history`;
    const reply = await send('GET', `${route}?cursor=${cursor}`, headersOf(`Bearer ${ownerToken}`, undefined));
    expectContractReply(`GET ${route} cursor ${JSON.stringify(key)}`, reply);
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ success: false, errors: [{ field: 'cursor' }] });
  });
});
