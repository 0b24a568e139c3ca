import { SQSClient, SendMessageCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { webhookIdOf } from '../../lambdas/core/delivery-message';
import { replayRuleDlq } from '../../lib/tools/rule-dlq-replay';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { runNpm } from '../support/npm-run';
import { eventBridgeEnvelope, eventually, peekQueue, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
let sqs: SQSClient;

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 1000 });
  hook = await startReceiver();
  sqs = new SQSClient({ endpoint: t.stack.awsEndpoint });
});
afterAll(async () => {
  await hook.close();
  await t.stop();
});

const setFanOutMaxMessageSize = (bytes: number) =>
  sqs.send(new SetQueueAttributesCommand({ QueueUrl: t.stack.queues.fanOut.url, Attributes: { MaximumMessageSize: String(bytes) } }));

test('an event the fan-out queue refused is kept in the rule DLQ and replayed under its event id', async () => {
  const project = 'proj-rule-dlq';
  const created = await subscribe(t, project, 'request.create', hook.url);
  const detail = { id_project: project, request_id: 'big', first_text: 'x'.repeat(2000) };

  // The fan-out queue refuses messages over 1 KB: EventBridge's target delivery fails.
  await setFanOutMaxMessageSize(1024);
  const [entry] = await publish(t, [{ type: 'request.create', detail }]);
  expect(entry?.EventId).toBeDefined();
  const eventId = entry!.EventId!;
  const [kept] = await eventually(async () => {
    const bodies = await peekQueue(t, t.stack.queues.ruleDlq.url);
    expect(bodies).toHaveLength(1);
    return bodies;
  });
  expect(JSON.parse(kept!)).toMatchObject({ id: eventId, source: 'tiledesk', 'detail-type': 'request.create', detail });

  // Barrier: a small event published after it goes through, the refused one did not.
  await publish(t, [{ type: 'request.create', detail: { id_project: project, request_id: 'sentinel' } }]);
  await hook.waitFor(1);
  expect(JSON.parse(hook.received[0]!.body).payload.request_id).toBe('sentinel');

  // The queue takes it again; the CLI replays the DLQ to the queue its TARGET_ARN names.
  await setFanOutMaxMessageSize(262_144);
  const replay = await runNpm('replay-rule-dlq', ['--dlq-url', t.stack.queues.ruleDlq.url], { AWS_ENDPOINT_URL: t.stack.awsEndpoint });
  expect(replay).toMatchObject({ code: 0, stderr: '' });
  expect(replay.stdout).toContain('replayed 1 event(s) to the fan-out queue; 0 left in the DLQ');

  const requests = await hook.waitFor(2);
  const replayed = requests[1]!;
  expect(replayed.headers['webhook-id']).toBe(webhookIdOf(eventId, created._id));
  expect(JSON.parse(replayed.body).payload).toEqual(detail);
  expect(await peekQueue(t, t.stack.queues.ruleDlq.url)).toHaveLength(0);

  // The same event replayed twice (a run stopped between send and delete) keeps its webhook-id,
  // which receivers deduplicate on. (This copy has no TARGET_ARN attribute: the target is given.)
  await sqs.send(new SendMessageCommand({ QueueUrl: t.stack.queues.ruleDlq.url, MessageBody: kept! }));
  const target = { targetQueueUrl: t.stack.queues.fanOut.url };
  expect(await replayRuleDlq(sqs, t.stack.queues.ruleDlq.url, target)).toEqual({ replayed: 1, left: [] });
  const again = await hook.waitFor(3);
  expect(again[2]!.headers['webhook-id']).toBe(replayed.headers['webhook-id']);
});

test('large events are replayed in batches SendMessageBatch takes (ten envelopes of ~200 KB are over its total)', async () => {
  const envelope = (n: number) =>
    eventBridgeEnvelope(`00000000-0000-4000-8000-00000000000${n}`, 'request.create', {
      id_project: 'proj-rule-dlq-large',
      request_id: `r${n}`,
      first_text: 'y'.repeat(200_000),
    });
  for (let n = 0; n < 6; n++) await sqs.send(new SendMessageCommand({ QueueUrl: t.stack.queues.ruleDlq.url, MessageBody: envelope(n) }));

  const result = await replayRuleDlq(sqs, t.stack.queues.ruleDlq.url, { targetQueueUrl: t.stack.queues.fanOut.url });

  expect(result).toEqual({ replayed: 6, left: [] });
  expect(await peekQueue(t, t.stack.queues.ruleDlq.url)).toHaveLength(0);
});

test('a message that is not an EventBridge event is left in the DLQ, with the reason', async () => {
  await sqs.send(new SendMessageCommand({ QueueUrl: t.stack.queues.ruleDlq.url, MessageBody: 'not an event' }));
  const result = await replayRuleDlq(sqs, t.stack.queues.ruleDlq.url, { visibilityTimeoutSeconds: 0 });
  expect(result.replayed).toBe(0);
  expect(result.left).toEqual([{ messageId: expect.any(String), reason: 'the body is not JSON' }]);
  expect(await peekQueue(t, t.stack.queues.ruleDlq.url)).toEqual(['not an event']);
});
