import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CLAIM_CHECK_FIELD, claimCheckPrefixOf } from '../../lambdas/core/claim-check';
import { REDACTED } from '../../lambdas/core/secret-redaction';
import { UNREACHABLE_TARGET } from '../../lambdas/core/target-policy';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';
import { globalHook, notifierRequest, postRaw } from '../support/tiledesk-notifier';

/**
 * Issue 20's findings on the API and the pipeline, each replayed against the local stack:
 * targets stored as typed, internal names told apart by the refusal, secrets echoed into
 * attempt logs, payload keys dropped on the way, answers with secrets cacheable.
 */
let t: TestStack;
const receivers: Receiver[] = [];
const GLOBAL_SECRET = 'iso-global-secret';
const HOOK_SECRET = 'iso-hook-secret-0123456789';

beforeAll(async () => {
  t = await startTestStack({ environment: { TILEDESK_GLOBAL_SECRET: GLOBAL_SECRET, TILEDESK_INGEST_HOOK_SECRET: HOOK_SECRET } });
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

async function receiver(reply?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

const create = (projectId: string, target: string, event = 'request.create') =>
  t.api('POST', `/${projectId}/subscriptions`, { token: t.tokenFor({ [projectId]: 'owner' }), body: { event, target } });

describe('targets are stored as the URL parser reads them', () => {
  test('`\\@` is stored and shown as the host it is delivered to, and the duplicate check sees through spellings', async () => {
    const projectId = 'iso-normalized';
    const typed = 'http://127.0.0.1\\@10.0.0.1:18080/x';
    const created = await create(projectId, typed);
    expect(created.status).toBe(200);
    expect(created.body.target).toBe('http://127.0.0.1/@10.0.0.1:18080/x');

    const listed = await t.api('GET', `/${projectId}/subscriptions`, { token: t.tokenFor({ [projectId]: 'owner' }) });
    expect((listed.body as unknown as { target: string }[]).map((s) => s.target)).toEqual(['http://127.0.0.1/@10.0.0.1:18080/x']);

    // Another spelling of the same URL is the same subscription (Tiledesk's idempotent create).
    const again = await create(projectId, 'HTTP://127.0.0.1:80/%40/../@10.0.0.1:18080/x');
    expect(again.status).toBe(200);
    expect(again.body._id).toBe(created.body._id);
  });

  test('an update stores the normalized target too', async () => {
    const projectId = 'iso-normalized-update';
    const created = await create(projectId, 'http://127.0.0.1:9/a');
    const updated = await t.api('PUT', `/${projectId}/subscriptions/${String(created.body._id)}`, {
      token: t.tokenFor({ [projectId]: 'owner' }),
      body: { target: 'http://0x7f.1:9/b/./c' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.target).toBe('http://127.0.0.1:9/b/c');
  });
});

describe('private and unresolvable targets', () => {
  test('are refused in the very same words, which say how to allow one', async () => {
    const projectId = 'iso-refusal';
    const privateTarget = await create(projectId, 'http://10.1.2.3/hook');
    const unresolvable = await create(projectId, 'http://no-such-host.invalid/hook');
    expect(privateTarget.status).toBe(400);
    expect(unresolvable.status).toBe(400);
    expect(unresolvable.body).toEqual(privateTarget.body);
    expect(privateTarget.body).toMatchObject({ errors: [{ field: 'target', message: UNREACHABLE_TARGET }] });
    expect(UNREACHABLE_TARGET).toMatch(/TARGET_ALLOWLIST/);
  });
});

describe('stored responses', () => {
  test("an echoing receiver's stored body holds no secret, before and after a rotation", async () => {
    const projectId = 'iso-echo';
    // A debugging endpoint: it answers with the request's headers and body.
    const echo = await receiver((_index, request) => ({
      status: 200,
      body: JSON.stringify({ headers: request.headers, body: request.body }),
      headers: { 'content-type': 'application/json' },
    }));
    const { _id, secret } = await subscribe(t, projectId, 'lead.create', echo.url);
    await publish(t, [{ type: 'lead.create', detail: { id_project: projectId, note: 'first' } }]);
    await echo.waitFor(1);

    const rotated = await t.api('POST', `/${projectId}/subscriptions/${_id}/rotate-secret`, { token: t.tokenFor({ [projectId]: 'owner' }) });
    expect(rotated.status).toBe(200);
    const newSecret = String(rotated.body.secret);
    await publish(t, [{ type: 'lead.create', detail: { id_project: projectId, note: 'second' } }]);
    await echo.waitFor(2);

    const logs = await eventually(async () => {
      const found = await logsOf(t, projectId, _id);
      expect(found.filter((log) => log.outcome === 'delivered')).toHaveLength(2);
      return found;
    });
    const token = JSON.parse(echo.received[0]!.body).token as string;
    for (const log of logs) {
      expect(log.responseBody).toBeDefined();
      for (const leaked of [secret, newSecret, token]) expect(log.responseBody).not.toContain(leaked);
      expect(log.responseBody).toContain(`"x-hook-secret":"${REDACTED}"`);
    }
  });
});

describe('payloads are delivered as published', () => {
  // Keys a parser or an object spread may treat as special; written as JSON text, never as
  // object literals (a literal `__proto__` sets the prototype instead of a key).
  const detailJson = (projectId: string) =>
    `{"id_project":"${projectId}","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"prototype":"p","toString":"t","hasOwnProperty":1}`;

  test('through PutEvents: `__proto__`, `constructor` and friends reach the receiver byte for byte', async () => {
    const projectId = 'iso-proto-bus';
    const hook = await receiver();
    await subscribe(t, projectId, 'faq.create', hook.url);
    const raw = detailJson(projectId);
    const { EventBridgeClient, PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
    const client = new EventBridgeClient({ endpoint: t.stack.awsEndpoint });
    await client.send(new PutEventsCommand({ Entries: [{ EventBusName: t.stack.busName, Source: 'tiledesk', DetailType: 'faq.create', Detail: raw }] }));
    const [delivered] = await hook.waitFor(1);
    expect(payloadText(delivered!.body)).toBe(raw);
  });

  test('through POST /{projectId}/events, the same', async () => {
    const projectId = 'iso-proto-api';
    const hook = await receiver();
    await subscribe(t, projectId, 'faq.create', hook.url);
    const raw = detailJson(projectId);
    const reply = await t.api('POST', `/${projectId}/events`, { token: t.platformToken(), rawBody: `{"event":"faq.create","payload":${raw}}` });
    expect(reply.status).toBe(202);
    const [delivered] = await hook.waitFor(1);
    expect(payloadText(delivered!.body)).toBe(raw);
  });

  test("through Tiledesk's ingest, the same", async () => {
    const projectId = 'iso-proto-ingest';
    const hook = await receiver();
    await subscribe(t, projectId, 'faq.create', hook.url);
    const raw = detailJson(projectId);
    const { headers, body } = notifierRequest(globalHook('faq.create', `${t.stack.apiUrl}/tiledesk/ingest`), {}, { key: GLOBAL_SECRET, hookSecret: HOOK_SECRET });
    // The notifier's body with this exact payload text in it (an object would lose `__proto__`).
    const rawBody = body.replace('"payload":{}', `"payload":${raw}`);
    expect(rawBody).toContain(raw);
    const reply = await postRaw(`${t.stack.apiUrl}/tiledesk/ingest`, rawBody, headers);
    expect(reply).toMatchObject({ status: 200, json: { success: true } });
    const [delivered] = await hook.waitFor(1);
    expect(payloadText(delivered!.body)).toBe(raw);
  });
});

describe('claim checks', () => {
  const forged = (projectId: string) => ({
    id_project: projectId,
    [CLAIM_CHECK_FIELD]: { bucket: t.stack.claimCheckBucket, key: 'events/iso-victim/2026-12-01/stolen.json', bytes: 10 },
  });

  test('POST /{projectId}/events refuses the reserved field with 400 naming it', async () => {
    const projectId = 'iso-claim-api';
    const single = await t.api('POST', `/${projectId}/events`, { token: t.platformToken(), body: { event: 'faq.create', payload: forged(projectId) } });
    expect(single.status).toBe(400);
    expect(single.body).toMatchObject({ errors: [{ field: `payload.${CLAIM_CHECK_FIELD}` }] });
    const list = await t.api('POST', `/${projectId}/events`, {
      token: t.platformToken(),
      body: [{ event: 'faq.create', payload: { id_project: projectId } }, { event: 'faq.create', payload: forged(projectId) }],
    });
    expect(list.status).toBe(400);
    expect(list.body).toMatchObject({ errors: [{ field: `1.payload.${CLAIM_CHECK_FIELD}` }] });
  });

  test("a pointer to another project's stored payload published on the bus is poison: nothing is read or delivered", async () => {
    // The victim publishes an event over 256 KB: its payload is stored aside under its project.
    const victim = 'iso-victim';
    const secretText = 'v'.repeat(300 * 1024);
    const published = await t.api('POST', `/${victim}/events`, { token: t.platformToken(), body: { event: 'faq.create', payload: { secretText } } });
    expect(published.body).toMatchObject({ claimChecked: 1 });
    const s3 = new S3Client({ endpoint: t.stack.awsEndpoint, forcePathStyle: true, region: process.env.AWS_REGION });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: t.stack.claimCheckBucket, Prefix: claimCheckPrefixOf(victim) }));
    const [stored] = listed.Contents ?? [];
    expect(stored?.Key).toBeDefined();

    // The attacker, on the bus, points its own project's event at it.
    const projectId = 'iso-claim-bus';
    const hook = await receiver();
    await subscribe(t, projectId, 'faq.create', hook.url);
    const pointer = { bucket: t.stack.claimCheckBucket, key: stored!.Key!, bytes: stored!.Size ?? 0 };
    await publish(t, [
      { type: 'faq.create', detail: { id_project: projectId, [CLAIM_CHECK_FIELD]: pointer } },
      { type: 'faq.create', detail: { id_project: projectId, after: true } },
    ]);
    // The honest event behind it arrives; the forged one never does.
    const [delivered] = await hook.waitFor(1);
    expect(JSON.parse(delivered!.body).payload).toEqual({ id_project: projectId, after: true });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(hook.received).toHaveLength(1);
    expect(hook.received.some((request) => request.body.includes(secretText.slice(0, 100)))).toBe(false);
  });
});

describe('answers', () => {
  test('are never cached: the create that carries a secret, and every other', async () => {
    const projectId = 'iso-cache';
    const created = await create(projectId, 'http://127.0.0.1:9/cache');
    expect(created.headers.get('cache-control')).toBe('no-store');
    const listed = await t.api('GET', `/${projectId}/subscriptions`, { token: t.tokenFor({ [projectId]: 'owner' }) });
    expect(listed.headers.get('cache-control')).toBe('no-store');
    const refused = await t.api('GET', `/${projectId}/subscriptions`, { token: null });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('cache-control')).toBe('no-store');
  });
});

/** The `payload` member of a webhook body, as the exact text it was sent as. */
function payloadText(body: string): string {
  const start = body.indexOf('"payload":') + '"payload":'.length;
  const end = body.lastIndexOf(',"token":');
  return body.slice(start, end);
}
