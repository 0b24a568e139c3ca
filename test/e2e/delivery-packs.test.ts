// The fan-out packs a subscription's deliveries of a batch into one SQS message (docs/design.md
// §3.20): a batch of ten events for two subscribers is two messages, not twenty, and every
// delivery still arrives once, signed, with its own webhook-id and payload, and is logged.
import type { Context, SQSEvent } from 'aws-lambda';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventBridgeEnvelope, eventually, logsOf, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
const receivers: Receiver[] = [];
let fanOutModule: typeof import('../../lambdas/handlers/fan-out');

beforeAll(async () => {
  t = await startTestStack({});
  // The very module the local stack runs (same jest module registry).
  fanOutModule = await import('../../lambdas/handlers/fan-out');
});
afterAll(async () => {
  await t?.stop();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

/** An SQS batch of the fan-out queue, as Lambda hands it over: one EventBridge event per record. */
const batchOf = (events: { id: string; projectId: string; n: number }[]): SQSEvent => ({
  Records: events.map(({ id, projectId, n }) => ({
    messageId: `record-${id}`,
    receiptHandle: `handle-${id}`,
    body: eventBridgeEnvelope(id, 'request.create', { id_project: projectId, n }),
    attributes: { ApproximateReceiveCount: '1' } as SQSEvent['Records'][number]['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:fan-out',
    awsRegion: 'us-east-1',
  })),
});

test('a batch of ten events for two subscribers is sent as two packs; every delivery arrives once and is logged', async () => {
  const projectId = 'p-packs';
  const [first, second] = [await receiver(), await receiver()];
  const subscriptions = [await subscribe(t, projectId, 'request.create', first.url), await subscribe(t, projectId, 'request.create', second.url)];
  const lone = await receiver();
  await subscribe(t, 'p-packs-other', 'request.create', lone.url);

  const sent: string[] = [];
  const { fanOutDeps, fanOut } = fanOutModule;
  const enqueue = fanOutDeps.enqueue;
  fanOutDeps.enqueue = (messages) => {
    sent.push(...messages.map((message) => message.body));
    return enqueue(messages);
  };
  try {
    const events = [
      ...Array.from({ length: 9 }, (_, n) => ({ id: `ev-pack-${n}`, projectId, n })),
      { id: 'ev-pack-lone', projectId: 'p-packs-other', n: 9 },
    ];
    const reply = await fanOut(batchOf(events), {} as Context);
    expect(reply.batchItemFailures).toEqual([]);
  } finally {
    fanOutDeps.enqueue = enqueue;
  }

  // Two packs of nine (one per subscription), and the other project's lone delivery as itself.
  const bodies = sent.map((body) => JSON.parse(body) as { pack?: { subscriptionId: string; webhookId: string }[]; webhookId?: string });
  expect(bodies.map((body) => body.pack?.length ?? 1).sort()).toEqual([1, 9, 9]);
  for (const body of bodies.filter((candidate) => candidate.pack)) {
    expect(new Set(body.pack!.map((delivery) => delivery.subscriptionId)).size).toBe(1);
  }

  for (const hook of [first, second]) {
    await eventually(() => expect(hook.received.length).toBe(9), 20_000);
    const ids = hook.received.map((request) => String(request.headers['webhook-id']));
    expect(new Set(ids).size).toBe(9);
    expect(hook.received.map((request) => (JSON.parse(request.body) as { payload: { n: number } }).payload.n).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  }
  await eventually(() => expect(lone.received.length).toBe(1), 20_000);
  for (const { _id } of subscriptions) {
    await eventually(async () => {
      const logs = await logsOf(t, projectId, _id);
      expect(logs.filter((attempt) => attempt.outcome === 'delivered')).toHaveLength(9);
    });
  }
}, 60_000);
