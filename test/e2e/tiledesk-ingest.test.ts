import { generateKeyPairSync } from 'node:crypto';
import { IngestDedupeStore } from '../../lambdas/adapters/ingest-dedupe-store';
import { stringifyJson } from '../../lambdas/core/json-text';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { runNpm } from '../support/npm-run';
import { subscribe } from '../support/pipeline';
import { Receiver, ReceivedRequest, startReceiver } from '../support/receiver';
import { NotifierConfig, TiledeskHook, globalHook, notifierRequest, postRaw } from '../support/tiledesk-notifier';

const GLOBAL_SECRET = 'tiledesk-global-secret';
const HOOK_SECRET = '2f1c6a34-5b1e-4a3e-9d1f-9c2a3b4c5d6e';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// Tiledesk reads keys from one-line variables with \n escapes; so can we.
const PUBLIC_PEM_ONE_LINE = publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n');

const hs256: NotifierConfig = { key: GLOBAL_SECRET, hookSecret: HOOK_SECRET };
const rs256: NotifierConfig = { key: PRIVATE_PEM, algorithm: 'RS256', hookSecret: HOOK_SECRET };

let t: TestStack;
let ingestUrl: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({
    environment: {
      TILEDESK_GLOBAL_SECRET: GLOBAL_SECRET,
      TILEDESK_GLOBAL_PUBLIC_KEY: PUBLIC_PEM_ONE_LINE,
      TILEDESK_INGEST_HOOK_SECRET: HOOK_SECRET,
    },
    operatorSelectTimeoutMs: 2000,
  });
  ingestUrl = `${t.stack.apiUrl}/tiledesk/ingest`;
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

/** A receiver subscribed here, through our API, to `event` in `projectId`. */
async function subscribedReceiver(projectId: string, event: string, reply?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const receiver = await startReceiver(reply);
  receivers.push(receiver);
  await subscribe(t, projectId, event, receiver.url);
  return receiver;
}

/** A request.create payload as Tiledesk's request model serialises it. */
const conversation = (projectId: string, text: string) => ({
  _id: `req-${text}`,
  request_id: `support-group-${projectId}-${text}`,
  id_project: projectId,
  first_text: text,
  status: 100,
  participants: [],
  createdAt: '2026-12-01T10:00:00.000Z',
});

/** What Tiledesk sends for `payload` through its global subscription `hook`, POSTed to ingest. */
async function tiledeskSends(hook: TiledeskHook, payload: unknown, config: NotifierConfig = hs256) {
  const { body, headers } = notifierRequest(hook, payload, config);
  return { body, headers, reply: await postRaw(ingestUrl, body, headers) };
}

const payloadsOf = (requests: ReceivedRequest[]) => requests.map((request) => (JSON.parse(request.body) as { payload: unknown }).payload);

describe('an unmodified tiledesk-server posting its global subscriptions here', () => {
  test.each([
    ['HS256 under GLOBAL_SECRET', hs256],
    ['RS256 under GLOBAL_SECRET_OR_PRIVATE_KEY', rs256],
  ])('%s: the event is published and delivered to the project\'s subscriber', async (_name, config) => {
    const projectId = `ingest-${config.algorithm ?? 'HS256'}`;
    const receiver = await subscribedReceiver(projectId, 'request.create');
    const payload = conversation(projectId, 'hello');

    const { reply } = await tiledeskSends(globalHook('request.create', ingestUrl), payload, config);

    expect(reply).toMatchObject({ status: 200, json: { success: true } });
    const delivered = payloadsOf(await receiver.waitFor(1));
    expect(delivered).toEqual([payload]);
    // Delivered as Tiledesk sent it, key order included.
    expect(Object.keys(delivered[0] as object)).toEqual(Object.keys(payload));
  });

  test('refused requests get 401 or 400 and publish nothing', async () => {
    const projectId = 'ingest-refused';
    const receiver = await subscribedReceiver(projectId, 'request.create');
    const hook = globalHook('request.create', ingestUrl);
    const payload = conversation(projectId, 'refused');

    const forged = await tiledeskSends(hook, payload, { ...hs256, key: 'guessed-secret' });
    const projectAudience = await tiledeskSends(hook, payload, { ...hs256, audience: `https://tiledesk.com/subscriptions/${hook._id}` });
    const wrongHookSecret = await tiledeskSends(hook, payload, { ...hs256, hookSecret: 'another-secret' });
    const signed = notifierRequest(hook, payload, hs256);
    const noHookSecret = await postRaw(ingestUrl, signed.body, Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'x-hook-secret')));
    const rsKeyAsHmacSecret = await tiledeskSends(hook, payload, { ...hs256, key: PUBLIC_PEM_ONE_LINE });
    // A valid token of one hook cannot carry another event.
    const valid = notifierRequest(hook, payload, hs256);
    const swappedEvent = await postRaw(ingestUrl, valid.body.replace('"event":"request.create"', '"event":"request.close"'), valid.headers);
    const unknownEvent = await tiledeskSends(globalHook('request.explode', ingestUrl), payload);
    const noProject = await tiledeskSends(hook, { ...payload, id_project: undefined });
    // Longer than any project id, and than DynamoDB's 2 KB key: refused, not let past the project's limit.
    const hugeProject = await tiledeskSends(hook, { ...payload, id_project: 'p'.repeat(3000) });

    expect(
      [forged.reply, projectAudience.reply, wrongHookSecret.reply, noHookSecret, rsKeyAsHmacSecret.reply, swappedEvent].map((reply) => [
        reply.status,
        (reply.json as { msg?: string }).msg,
      ]),
    ).toEqual([
      [401, 'Invalid token signature'],
      // The likely mistake named: a project subscription's token (or secret) sent to ingest.
      [401, "Token audience not accepted: ingest takes the tokens of Tiledesk's global subscriptions (audience https://tiledesk.com); a project subscription's token names its own"],
      [401, "x-hook-secret does not match the global subscription secret (ingest takes Tiledesk's global subscriptions: a project's own subscription sends its own secret)"],
      [401, "x-hook-secret header missing: ingest takes the requests of Tiledesk's global subscriptions, which carry their secret"],
      [401, 'Invalid token signature'],
      [401, 'token was not issued for this hook'],
    ]);
    expect(unknownEvent.reply).toMatchObject({ status: 400, json: { errors: [{ field: 'hook.event' }] } });
    expect(noProject.reply).toMatchObject({ status: 400, json: { errors: [{ field: 'payload.id_project' }] } });
    expect(hugeProject.reply).toMatchObject({ status: 400, json: { errors: [{ field: 'payload.id_project' }] } });

    // Barrier: a valid event sent after them is the only one delivered.
    const sentinel = conversation(projectId, 'sentinel');
    expect((await tiledeskSends(hook, sentinel)).reply.status).toBe(200);
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([sentinel]);
    expect(receiver.received).toHaveLength(1);
  });

  test('Tiledesk\'s retry of the same request is published once', async () => {
    const projectId = 'ingest-retry';
    const receiver = await subscribedReceiver(projectId, 'request.create');
    const hook = globalHook('request.create', ingestUrl);
    const first = notifierRequest(hook, conversation(projectId, 'once'), hs256);

    const replies = [await postRaw(ingestUrl, first.body, first.headers), await postRaw(ingestUrl, first.body, first.headers)];
    expect(replies.map((reply) => reply.json)).toEqual([{ success: true }, { success: true, duplicate: true }]);

    const sentinel = conversation(projectId, 'after-retry');
    await tiledeskSends(hook, sentinel);
    const delivered = payloadsOf(await receiver.waitFor(2));
    expect(delivered).toEqual([conversation(projectId, 'once'), sentinel]);
    expect(receiver.received).toHaveLength(2);
  });
});

describe('payloads as deep as Tiledesk may send', () => {
  test('a payload nesting 3,000 levels is published and delivered as sent', async () => {
    const projectId = 'ingest-deep';
    const receiver = await subscribedReceiver(projectId, 'request.create');
    let deep: unknown = 'bottom';
    for (let level = 0; level < 3000; level++) deep = { level: deep };
    const payload = { ...conversation(projectId, 'deep'), attributes: deep };

    const { reply } = await tiledeskSends(globalHook('request.create', ingestUrl), payload);

    expect(reply.status).toBe(200);
    const [delivered] = await receiver.waitFor(1);
    // Compared as text, and as a boolean: jest would recurse 3,000 levels and print megabytes.
    const deliveredPayload = (JSON.parse(delivered?.body ?? '{}') as { payload: unknown }).payload;
    expect(stringifyJson(deliveredPayload) === stringifyJson(payload)).toBe(true);
  });
});

describe('operator.select from Tiledesk', () => {
  /** The routing object departmentService hands to the operator.select subscribers. */
  const routing = (projectId: string) => ({
    id_project: projectId,
    department: { _id: 'dep-1', name: 'Default', routing: 'assigned' },
    agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
    available_agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
    operators: [{ id_user: 'u1' }],
    context: { request: { request_id: `support-group-${projectId}` } },
  });

  test('is answered with the routing object the project\'s hook chose, while Tiledesk waits', async () => {
    const projectId = 'ingest-opsel';
    const hookReceiver = await subscribedReceiver(projectId, 'operator.select', () => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operators: [{ id_user: 'u2' }] }),
    }));

    const { reply } = await tiledeskSends(globalHook('operator.select', ingestUrl), routing(projectId));

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ ...routing(projectId), operators: [{ id_user: 'u2' }] });
    expect(payloadsOf(hookReceiver.received)).toEqual([routing(projectId)]);
  });

  test('without a hook, or with a failing one, is answered with the request unchanged', async () => {
    const failing = 'ingest-opsel-failing';
    await subscribedReceiver(failing, 'operator.select', () => ({ status: 500 }));
    const hook = globalHook('operator.select', ingestUrl);

    const none = await tiledeskSends(hook, routing('ingest-opsel-none'));
    const failed = await tiledeskSends(hook, routing(failing));

    expect([none.reply.status, none.reply.json]).toEqual([200, routing('ingest-opsel-none')]);
    expect([failed.reply.status, failed.reply.json]).toEqual([200, routing(failing)]);
  });
});

describe('the retry window', () => {
  test('recognises a request within the window and lets it through again once the window is over, even before DynamoDB\'s TTL removes it', async () => {
    const store = new IngestDedupeStore(t.stack.tableName, 600);
    const t0 = Date.UTC(2026, 11, 1, 12, 0, 0);
    const claims = [
      await store.claim('hash-window', t0),
      await store.claim('hash-window', t0 + 599_000),
      await store.claim('hash-window', t0 + 601_000),
      await store.claim('hash-window', t0 + 602_000),
    ];
    expect(claims).toEqual([true, false, true, false]);
  });

  test('a released marker (publishing failed) lets Tiledesk\'s retry through', async () => {
    const store = new IngestDedupeStore(t.stack.tableName, 600);
    expect(await store.claim('hash-released')).toBe(true);
    await store.release('hash-released');
    expect(await store.claim('hash-released')).toBe(true);
  });
});

describe('npm run tiledesk-notify (the README\'s way to try ingest without a tiledesk-server)', () => {
  const notifierEnv = { TILEDESK_GLOBAL_SECRET: GLOBAL_SECRET, TILEDESK_INGEST_HOOK_SECRET: HOOK_SECRET };

  test("posts Tiledesk's request for an event, which is delivered, and prints the answer", async () => {
    const projectId = 'ingest-notify-cli';
    const receiver = await subscribedReceiver(projectId, 'lead.create');
    const payload = { id_project: projectId, email: 'lead@example.com' };
    const result = await runNpm('tiledesk-notify', ['--event', 'lead.create', '--payload', JSON.stringify(payload), '--url', ingestUrl], notifierEnv);
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 0, stdout: '200 {"success":true}\n', stderr: '' });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([payload]);
  });

  test('prints the routing for operator.select, and names what is missing in one line', async () => {
    const routed = await runNpm('tiledesk-notify', ['--event', 'operator.select', '--project', 'ingest-notify-routing', '--url', ingestUrl], notifierEnv);
    expect(routed.code).toBe(0);
    expect(routed.stdout).toMatch(/^200 \{"id_project":"ingest-notify-routing","operators":\[\{"id_user":"u1"\}\]/);
    const cleartext = await runNpm('tiledesk-notify', ['--event', 'lead.create', '--url', 'http://ingest.example.com/tiledesk/ingest'], notifierEnv);
    expect({ code: cleartext.code, stderr: cleartext.stderr }).toEqual({
      code: 2,
      stderr: '--url must be https:// (http:// only to this machine: the request carries the hook secret); got http://ingest.example.com/tiledesk/ingest\n',
    });
    const unset = await runNpm('tiledesk-notify', ['--event', 'lead.create', '--url', ingestUrl], { TILEDESK_GLOBAL_SECRET: '', TILEDESK_INGEST_HOOK_SECRET: '' });
    expect({ code: unset.code, stderr: unset.stderr }).toEqual({
      code: 2,
      stderr: 'set TILEDESK_GLOBAL_SECRET and TILEDESK_INGEST_HOOK_SECRET as for npm start: the token is signed with the first, x-hook-secret is the second\n',
    });
  });
});
