import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createClaimCheckStore } from '../../lambdas/adapters/claim-check-store';
import { publishTiledeskEvents } from '../../lambdas/adapters/event-publisher';
import { MAX_EVENT_ENTRY_BYTES, measuredBytes } from '../../lambdas/core/claim-check';
import { CLAIM_CHECK } from '../../lambdas/core/settings';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, subscribe } from '../support/pipeline';
import { Receiver, ReceivedRequest, startReceiver } from '../support/receiver';
import { globalHook, notifierRequest, postRaw } from '../support/tiledesk-notifier';

const GLOBAL_SECRET = 'tiledesk-global-secret';
const HOOK_SECRET = 'hook-secret';

let t: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({ environment: { TILEDESK_GLOBAL_SECRET: GLOBAL_SECRET, TILEDESK_INGEST_HOOK_SECRET: HOOK_SECRET } });
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

async function subscribedReceiver(projectId: string, event: string): Promise<{ receiver: Receiver; subscriptionId: string }> {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const { _id } = await subscribe(t, projectId, event, receiver.url);
  return { receiver, subscriptionId: _id };
}

/**
 * A request.close as Tiledesk sends it, carrying the conversation's messages: about 600 KB of
 * JSON, with quotes, backslashes and emoji that JSON escapes or encodes on several bytes.
 */
function closedConversation(projectId: string) {
  const messages = Array.from({ length: 600 }, (_, n) => ({
    _id: `msg-${n}`,
    sender: n % 2 ? 'u-agent' : 'visitor',
    text: `Message ${n}: "quoted" \\ back-slashed 🚀 ${'x'.repeat(900)}`,
    createdAt: new Date(Date.UTC(2026, 11, 1, 10, 0, n % 60)).toISOString(),
  }));
  return { _id: 'req-big', request_id: `support-group-${projectId}`, id_project: projectId, status: 1000, messages };
}

const payloadsOf = (requests: ReceivedRequest[]) => requests.map((request) => (JSON.parse(request.body) as { payload: unknown }).payload);

async function storedClaimChecks(): Promise<number> {
  const s3 = new S3Client({ endpoint: t.stack.awsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: t.stack.claimCheckBucket, Prefix: CLAIM_CHECK.keyPrefix }));
  return listed.KeyCount ?? 0;
}

describe('an event over EventBridge\'s 256 KB', () => {
  test('arriving from Tiledesk by ingest is stored aside and delivered whole, its attempt logged', async () => {
    const projectId = 'large-ingest';
    const { receiver, subscriptionId } = await subscribedReceiver(projectId, 'request.close');
    const payload = closedConversation(projectId);
    const before = await storedClaimChecks();

    const { body, headers } = notifierRequest(globalHook('request.close', 'https://x/tiledesk/ingest'), payload, {
      key: GLOBAL_SECRET,
      hookSecret: HOOK_SECRET,
    });
    expect(Buffer.byteLength(body)).toBeGreaterThan(600 * 1024);
    const reply = await postRaw(`${t.stack.apiUrl}/tiledesk/ingest`, body, headers);

    expect(reply).toMatchObject({ status: 200, json: { success: true } });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([payload]);
    expect(await storedClaimChecks()).toBe(before + 1);
    const logs = await eventually(async () => {
      const found = await logsOf(t, projectId, subscriptionId);
      expect(found.map((log) => log.outcome)).toEqual(['delivered']);
      return found;
    });
    expect(logs).toHaveLength(1);
  });

  test('published with POST /{projectId}/events is stored aside and delivered whole', async () => {
    const projectId = 'large-http';
    const { receiver } = await subscribedReceiver(projectId, 'request.close');
    const payload = closedConversation(projectId);

    const reply = await t.api('POST', `/${projectId}/events`, { token: t.platformToken(), body: { event: 'request.close', payload } });

    expect(reply).toMatchObject({ status: 202, body: { published: 1, claimChecked: 1 } });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([payload]);
  });
});

describe("an event just under EventBridge's 256 KB, published inline", () => {
  test("is delivered: its delivery message, over SQS's documented default size of 256 KiB, fits the delivery queues", async () => {
    const projectId = 'inline-largest';
    const { receiver, subscriptionId } = await subscribedReceiver(projectId, 'lead.create');
    // The largest payload still published inline; its delivery message adds its own fields.
    const payloadOf = (length: number) => ({ id_project: projectId, _id: 'lead-large', notes: 'n'.repeat(length) });
    const inline = (length: number) => measuredBytes('lead.create', JSON.stringify(payloadOf(length))) <= MAX_EVENT_ENTRY_BYTES;
    let length = 250_000;
    for (let step = 8192; step >= 1; step /= 2) while (inline(length + step)) length += step;
    const payload = payloadOf(length);

    const reply = await t.api('POST', `/${projectId}/events`, { token: t.platformToken(), body: { event: 'lead.create', payload } });

    expect(reply).toMatchObject({ status: 202, body: { published: 1, claimChecked: 0 } });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([payload]);
    await eventually(async () => expect((await logsOf(t, projectId, subscriptionId)).map((log) => log.outcome)).toEqual(['delivered']));
  });
});

describe('an event carrying U+FFFE or U+FFFF, which SQS refuses in a message body', () => {
  test('is stored aside, delivered with the characters as published, and its attempt logged', async () => {
    const projectId = 'nonchar-http';
    const { receiver, subscriptionId } = await subscribedReceiver(projectId, 'message.create');
    const payload = { id_project: projectId, text: 'hi \uffff there \ufffe', attributes: { note: 'end\uffff' } };

    const reply = await t.api('POST', `/${projectId}/events`, { token: t.platformToken(), body: { event: 'message.create', payload } });

    expect(reply).toMatchObject({ status: 202, body: { published: 1, claimChecked: 1 } });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([payload]);
    await eventually(async () => expect((await logsOf(t, projectId, subscriptionId)).map((log) => log.outcome)).toEqual(['delivered']));
  });
});

describe('a PutEvents producer', () => {
  test('publishing with the helper gets a large event stored aside and delivered whole', async () => {
    const projectId = 'large-helper';
    const { receiver } = await subscribedReceiver(projectId, 'request.close');
    const payload = closedConversation(projectId);

    const result = await publishTiledeskEvents(t.stack.busName, [{ event: 'request.close', payload }], createClaimCheckStore(t.stack.claimCheckBucket));

    expect(result).toEqual({ published: 1, claimChecked: 1 });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([payload]);
  });

  test('a claim check whose object is gone (expired) is a failed attempt that says so, not a bare Access Denied', async () => {
    const projectId = 'large-expired';
    const { receiver, subscriptionId } = await subscribedReceiver(projectId, 'request.close');
    const real = createClaimCheckStore(t.stack.claimCheckBucket);
    // Stored, then deleted before delivery, as S3's lifecycle rule would.
    const vanishing = {
      ...real,
      async put(payloadJson: string, project: string) {
        const claimCheck = await real.put(payloadJson, project);
        const s3 = new S3Client({ endpoint: t.stack.awsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, forcePathStyle: true });
        await s3.send(new DeleteObjectCommand({ Bucket: claimCheck.bucket, Key: claimCheck.key }));
        return claimCheck;
      },
    };

    await publishTiledeskEvents(t.stack.busName, [{ event: 'request.close', payload: closedConversation(projectId) }], vanishing);

    await eventually(async () => {
      const [first] = (await logsOf(t, projectId, subscriptionId)).slice(-1);
      expect(first).toMatchObject({ outcome: 'failed' });
      // The delivery function has no s3:ListBucket: S3 (and the local endpoint) answer 403.
      expect(first?.error).toMatch(/^stored payload could not be read: Error: claim check s3:\/\/\S+ cannot be read \(AccessDenied: .*s3:ListBucket.*\): it expired, or was never stored/);
    });
    expect(receiver.received).toHaveLength(0);
  });
});

describe('POST /{projectId}/events', () => {
  test('publishes small events directly, a list in one call, id_project defaulting to the path', async () => {
    const projectId = 'events-small';
    const { receiver } = await subscribedReceiver(projectId, 'lead.create');
    const before = await storedClaimChecks();

    const reply = await t.api('POST', `/${projectId}/events`, {
      token: t.platformToken(),
      body: [
        { event: 'lead.create', payload: { _id: 'lead-1', fullname: 'Ada' } },
        { event: 'lead.create', payload: { _id: 'lead-2', fullname: 'Grace', id_project: projectId, zeta: 1, alpha: 2 } },
      ],
    });

    expect(reply).toMatchObject({ status: 202, body: { published: 2, claimChecked: 0 } });
    const delivered = payloadsOf(await receiver.waitFor(2)) as { _id: string }[];
    expect(delivered.map((payload) => payload._id).sort()).toEqual(['lead-1', 'lead-2']);
    expect(delivered.find((payload) => payload._id === 'lead-1')).toEqual({ id_project: projectId, _id: 'lead-1', fullname: 'Ada' });
    // Published as sent, key order included.
    expect(Object.keys(delivered.find((payload) => payload._id === 'lead-2') ?? {})).toEqual(['_id', 'fullname', 'id_project', 'zeta', 'alpha']);
    expect(await storedClaimChecks()).toBe(before);
  });

  test('refuses what it cannot publish, naming the field, and anyone but the platform', async () => {
    const projectId = 'events-refused';
    const { receiver } = await subscribedReceiver(projectId, 'lead.create');
    const post = (body: unknown, token = t.platformToken()) => t.api('POST', `/${projectId}/events`, { token, body });

    const owner = await post({ event: 'lead.create', payload: {} }, t.tokenFor({ [projectId]: 'owner' }));
    const unknown = await post({ event: 'lead.explode', payload: {} });
    const synchronous = await post([{ event: 'operator.select', payload: {} }]);
    const otherProject = await post({ event: 'lead.create', payload: { id_project: 'someone-else' } });
    const noPayload = await post({ event: 'lead.create' });

    expect([owner, unknown, synchronous, otherProject, noPayload].map((reply) => reply.status)).toEqual([403, 400, 400, 400, 400]);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ field: 'event' })]);
    expect(synchronous.body.errors).toEqual([expect.objectContaining({ field: '0.event' })]);
    expect(otherProject.body.errors).toEqual([expect.objectContaining({ field: 'payload.id_project' })]);
    expect(noPayload.body.errors).toEqual([expect.objectContaining({ field: 'payload' })]);

    // Barrier: only an event sent after them arrives.
    await post({ event: 'lead.create', payload: { _id: 'sentinel' } });
    expect(payloadsOf(await receiver.waitFor(1))).toEqual([{ id_project: projectId, _id: 'sentinel' }]);
    expect(receiver.received).toHaveLength(1);
  });
});
