import { request } from 'node:http';
import jwt from 'jsonwebtoken';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';
import { TiledeskHook, globalHook, notifierRequest } from '../support/tiledesk-notifier';

/**
 * Issue 20's ingest and tenant findings against the local stack: a captured Tiledesk request
 * replayed with another payload, tokens of any age, any source, no per-tenant limits.
 */
const GLOBAL_SECRET = 'tiledesk-global-secret';
const HOOK_SECRET = '2f1c6a34-5b1e-4a3e-9d1f-9c2a3b4c5d6e';
/** Tiledesk's egress, as the allowlist names it; the tests' other loopback address is not in it. */
const TILEDESK_ADDRESS = '127.0.0.2';
const OTHER_ADDRESS = '127.0.0.3';
const MAX_AGE_SECONDS = 120;

let t: TestStack;
let ingestUrl: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({
    environment: {
      TILEDESK_GLOBAL_SECRET: GLOBAL_SECRET,
      TILEDESK_INGEST_HOOK_SECRET: HOOK_SECRET,
      TILEDESK_INGEST_SOURCE_ALLOWLIST: `${TILEDESK_ADDRESS}/32`,
      INGEST_TOKEN_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
      PROJECT_API_LIMIT: '1,3',
      PROJECT_EVENTS_LIMIT: '1,3',
      INGEST_SOURCE_LIMIT: '5,8',
    },
  });
  ingestUrl = `${t.stack.apiUrl}/tiledesk/ingest`;
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** POSTs exactly these bytes from `from` (a loopback address), as Tiledesk's `request` does. */
function postFrom(from: string, body: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sent = request(
      ingestUrl,
      { method: 'POST', localAddress: from, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      },
    );
    sent.on('error', reject);
    sent.end(body);
  });
}

/** A request of tiledesk-server whose token was signed `ageSeconds` ago. */
function signedAgo(hook: TiledeskHook, payload: unknown, ageSeconds: number) {
  const { headers } = notifierRequest(hook, payload, { key: GLOBAL_SECRET, hookSecret: HOOK_SECRET });
  const iat = Math.floor(Date.now() / 1000) - ageSeconds;
  const token = jwt.sign({ ...hook, iat }, GLOBAL_SECRET, { issuer: 'https://tiledesk.com', subject: 'subscription', audience: 'https://tiledesk.com' });
  return { body: JSON.stringify({ timestamp: Date.now(), payload, hook, token }), headers };
}

async function subscribedReceiver(projectId: string, event: string): Promise<Receiver> {
  const receiver = await startReceiver();
  receivers.push(receiver);
  await subscribe(t, projectId, event, receiver.url);
  return receiver;
}

describe('POST /tiledesk/ingest', () => {
  test('takes a fresh request from the allowed source', async () => {
    const projectId = 'lim-fresh';
    const hook = await subscribedReceiver(projectId, 'lead.create');
    const { body, headers } = signedAgo(globalHook('lead.create', ingestUrl), { id_project: projectId, n: 1 }, 2);
    expect((await postFrom(TILEDESK_ADDRESS, body, headers)).status).toBe(200);
    await hook.waitFor(1);
  });

  test('refuses a token whose iat is older than the window, e.g. 2016', async () => {
    const hookDoc = globalHook('lead.create', ingestUrl);
    for (const age of [MAX_AGE_SECONDS + 5, Math.floor(Date.now() / 1000) - Date.UTC(2016, 0, 1) / 1000]) {
      const { body, headers } = signedAgo(hookDoc, { id_project: 'lim-old' }, age);
      const reply = await postFrom(TILEDESK_ADDRESS, body, headers);
      expect(reply.status).toBe(401);
      expect(reply.json.msg).toMatch(new RegExp(`up to ${MAX_AGE_SECONDS} s old`));
    }
  });

  test("the probe's replay: a captured request with a new timestamp and another project's payload is refused", async () => {
    const victim = 'lim-victim';
    const hook = await subscribedReceiver(victim, 'request.create');
    // Captured when Tiledesk sent it, played back after the window with a new payload and timestamp.
    const captured = signedAgo(globalHook('request.create', ingestUrl), { id_project: 'lim-attacker' }, MAX_AGE_SECONDS + 30);
    const { hook: capturedHook, token } = JSON.parse(captured.body) as { hook: TiledeskHook; token: string };
    const replay = JSON.stringify({ timestamp: Date.now(), payload: { id_project: victim, first_text: 'forged' }, hook: capturedHook, token });
    expect((await postFrom(TILEDESK_ADDRESS, replay, captured.headers)).status).toBe(401);
    // Nor from anywhere else, however fresh the token.
    const fresh = signedAgo(globalHook('request.create', ingestUrl), { id_project: victim, first_text: 'forged' }, 0);
    const elsewhere = await postFrom(OTHER_ADDRESS, fresh.body, fresh.headers);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.json.msg).toMatch(/TILEDESK_INGEST_SOURCE_ALLOWLIST/);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(hook.received).toHaveLength(0);
  });

  test("refuses the reserved claim-check field in Tiledesk's payload with 400 naming it", async () => {
    const payload = { id_project: 'lim-claim', tiledeskWebhooksClaimCheck: { bucket: 'b', key: 'events/x/y.json', bytes: 1 } };
    const { body, headers } = signedAgo(globalHook('lead.create', ingestUrl), payload, 0);
    const reply = await postFrom(TILEDESK_ADDRESS, body, headers);
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ errors: [{ field: 'payload.tiledeskWebhooksClaimCheck' }] });
  });

  test("holds each project to its events limit (429 with Retry-After), without touching another project's", async () => {
    const send = (projectId: string, n: number) => {
      const { body, headers } = signedAgo(globalHook('lead.create', ingestUrl), { id_project: projectId, n }, 0);
      return postFrom(TILEDESK_ADDRESS, body, headers);
    };
    // Burst 3 at 1/s: a quick run of 6 gets 3 through, then 429s.
    const busy = [];
    for (let n = 0; n < 6; n++) busy.push(await send('lim-busy', n));
    expect(busy.map((reply) => reply.status)).toEqual([200, 200, 200, 429, 429, 429]);
    const retryAfter = Number(busy[3]!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(busy[3]!.json.msg).toMatch(/project lim-busy: too many requests/);
    // The quiet project is not affected by the busy one.
    expect((await send('lim-quiet', 0)).status).toBe(200);
    // After the wait, the busy project gets through again.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    expect((await send('lim-busy', 6)).status).toBe(200);
  });
  test("counts operator.select apart from the project's events, and past its share answers the default routing, never a 429 (DESIGN §6)", async () => {
    const projectId = 'lim-ingest-routing';
    const routing = { id_project: projectId, operators: [{ id_user: 'u1' }], departmentId: 'd1' };
    const select = () => {
      const { body, headers } = signedAgo(globalHook('operator.select', ingestUrl), routing, 0);
      return postFrom(TILEDESK_ADDRESS, body, headers);
    };
    const publish = (n: number) => {
      const { body, headers } = signedAgo(globalHook('lead.create', ingestUrl), { id_project: projectId, n }, 0);
      return postFrom(TILEDESK_ADDRESS, body, headers);
    };
    const hook = await startReceiver(() => ({ status: 200, body: JSON.stringify({ operators: [{ id_user: 'u9' }] }) }));
    receivers.push(hook);
    await subscribe(t, projectId, 'operator.select', hook.url);
    // Routing calls past their own burst (3 at 1/s): the burst asks the hook, the next one gets
    // Tiledesk's own routing without it, and each is a 200.
    const calls = [];
    for (let n = 0; n < 4; n++) calls.push(await select());
    expect(calls.map((call) => call.status)).toEqual([200, 200, 200, 200]);
    expect(calls.map((call) => (call.json as { operators: { id_user: string }[] }).operators[0]!.id_user)).toEqual(['u9', 'u9', 'u9', 'u1']);
    expect(calls[3]!.json).toEqual(routing);
    expect(hook.received).toHaveLength(3);
    // (The source's own limit, 8 at 5/s, counts every request before it is verified: let it refill.)
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // They spent none of the project's events: its burst of 3 is whole. Past it, events get 429...
    const events = [];
    for (let n = 0; n < 4; n++) events.push((await publish(n)).status);
    expect(events).toEqual([200, 200, 200, 429]);
    // ...and a routing call still gets its answer (its own share refilled by one meanwhile).
    expect(await select()).toMatchObject({ status: 200 });
  });
});

describe('per-project limits on the API', () => {
  test('POST /{projectId}/events: 429 with Retry-After past the burst', async () => {
    const projectId = 'lim-publish';
    const statuses = [];
    for (let n = 0; n < 5; n++) {
      const reply = await t.api('POST', `/${projectId}/events`, { token: t.platformToken(), body: { event: 'lead.create', payload: { n } } });
      statuses.push(reply.status);
      if (reply.status === 429) expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
  });

  test("the subscription API: one project's calls past its burst get 429 with Retry-After; another project's still pass", async () => {
    const token = t.tokenFor({ 'lim-api': 'owner', 'lim-api-other': 'owner' });
    const statuses = [];
    let refused;
    for (let n = 0; n < 5; n++) {
      const reply = await t.api('GET', '/lim-api/subscriptions', { token });
      statuses.push(reply.status);
      if (reply.status === 429) refused = reply;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused!.body).toMatchObject({ success: false, msg: expect.stringMatching(/too many requests/) });
    expect((await t.api('GET', '/lim-api-other/subscriptions', { token })).status).toBe(200);
  });

  test('POST /{projectId}/events/example publishes a real event, so it counts against the same share', async () => {
    const token = t.tokenFor({ 'lim-example': 'owner' });
    const statuses = [];
    // Burst 3: two published events, then examples: the third call is the last let through.
    for (let n = 0; n < 2; n++) {
      statuses.push((await t.api('POST', '/lim-example/events', { token: t.platformToken(), body: { event: 'lead.create', payload: { n } } })).status);
    }
    for (let n = 0; n < 3; n++) statuses.push((await t.api('POST', '/lim-example/events/example', { token, body: { event: 'lead.create' } })).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
  });

  test("POST /{projectId}/operator-select: a project's calls past its burst get the default routing without the hook (never an error, DESIGN §6); another project's still ask", async () => {
    const call = (projectId: string) =>
      t.api('POST', `/${projectId}/operator-select`, { token: t.platformToken(), body: { operators: [{ id_user: 'u1' }], departmentId: 'd1' } });
    const replies = [];
    for (let n = 0; n < 5; n++) replies.push(await call('lim-routing'));
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200]);
    const reasons = replies.map((reply) => reply.headers.get('x-operator-select-reason') ?? '');
    expect(reasons.map((reason) => /over the project's limit/.test(reason))).toEqual([false, false, false, true, true]);
    for (const reply of replies) expect(reply.body).toMatchObject({ operators: [{ id_user: 'u1' }] });
    expect((await call('lim-routing-other')).headers.get('x-operator-select-reason')).not.toMatch(/over the project's limit/);
  });

  test('a caller without rights on the project cannot spend its share', async () => {
    const outsider = t.tokenFor({ 'someone-else': 'owner' });
    for (let n = 0; n < 5; n++) expect((await t.api('GET', '/lim-api-guarded/subscriptions', { token: outsider })).status).toBe(403);
    expect((await t.api('GET', '/lim-api-guarded/subscriptions', { token: t.tokenFor({ 'lim-api-guarded': 'owner' }) })).status).toBe(200);
  });
});

describe('per-source limit on ingest', () => {
  test('counts every request of a source, verified or not', async () => {
    // Wait out the earlier tests' use of the Tiledesk address.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const statuses = [];
    for (let n = 0; n < 12; n++) statuses.push((await postFrom(TILEDESK_ADDRESS, '{"junk":true}', { 'content-type': 'application/json' })).status);
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(8);
    expect(statuses).toContain(429);
  });

  test("a routing call over it gets the default routing, never a 429 (DESIGN §6); an event, or a call without the hook secret, gets the 429", async () => {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const routing = { id_project: 'lim-source-routing', operators: [{ id_user: 'u1' }], departmentId: 'd1' };
    const select = (headers?: Record<string, string>, ageSeconds = 0) => {
      const signed = signedAgo(globalHook('operator.select', ingestUrl), routing, ageSeconds);
      return postFrom(TILEDESK_ADDRESS, signed.body, { ...signed.headers, ...headers });
    };
    const publish = () => {
      const signed = signedAgo(globalHook('lead.create', ingestUrl), { id_project: 'lim-source-routing' }, 0);
      return postFrom(TILEDESK_ADDRESS, signed.body, signed.headers);
    };
    /** Spends the source's share (8 at 5/s) with junk until it answers 429. */
    const exhaust = async () => {
      for (let n = 0; n < 20; n++) if ((await postFrom(TILEDESK_ADDRESS, '{"junk":true}', { 'content-type': 'application/json' })).status === 429) return;
      throw new Error('the source limit never answered 429');
    };
    // Three at once right after the share is spent; a refill (one per 200 ms) may let one or two
    // through on a loaded machine, so what is over the limit is asserted by at least one 429.
    await exhaust();
    const calls = await Promise.all([select(), select(), select()]);
    expect(calls.map((call) => call.status)).toEqual([200, 200, 200]);
    for (const call of calls) expect(call.json).toEqual(routing);
    await exhaust();
    const events = await Promise.all([publish(), publish(), publish()]);
    expect(events.filter((reply) => reply.status === 429).length).toBeGreaterThanOrEqual(1);
    // Verified as any ingest request: without the hook secret, or with a stale token (a captured
    // request played again), a routing call over the limit gets the 429, not an answer.
    await exhaust();
    const forged = await Promise.all([0, 1, 2].map(() => select({ 'x-hook-secret': 'not-the-secret' })));
    expect(forged.filter((reply) => reply.status === 429).length).toBeGreaterThanOrEqual(1);
    expect(forged.filter((reply) => reply.status === 200)).toEqual([]);
    await exhaust();
    const stale = await Promise.all([0, 1, 2].map(() => select(undefined, MAX_AGE_SECONDS + 60)));
    expect(stale.filter((reply) => reply.status === 429).length).toBeGreaterThanOrEqual(1);
    expect(stale.filter((reply) => reply.status === 200)).toEqual([]);
  });
});
