// Retries wait as delayed messages, never as in-flight ones (issue: a standard queue stops
// receiving at ~120,000 in flight). With a long schedule and a failing receiver, the delivery
// queue's in-flight count returns to 0 between invocations while the retries stay pending, and
// a subscriber's 12 h Retry-After is scheduled 12 h out.
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let failing: Receiver;
let throttling: Receiver;

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [600, 600] });
  failing = await startReceiver(() => ({ status: 500, body: 'down' }));
  throttling = await startReceiver(() => ({ status: 503, headers: { 'retry-after': '43200' } }));
});

afterAll(async () => {
  await t?.stop();
  await failing?.close();
  await throttling?.close();
});

async function queueCounts(queueUrl: string): Promise<{ inFlight: number; delayed: number; visible: number }> {
  const sqs = new SQSClient({ endpoint: t.stack.awsEndpoint });
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessages'],
    }),
  );
  return {
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed),
    visible: Number(Attributes.ApproximateNumberOfMessages),
  };
}

it('keeps a 10-minute retry as a delayed message: nothing stays in flight between invocations', async () => {
  const projectId = 'p-long-schedule';
  const { _id } = await subscribe(t, projectId, 'request.create', failing.url);
  const publishedAt = Date.now();
  await publish(t, [{ type: 'request.create', detail: { id_project: projectId, n: 1 } }]);
  const [first] = await eventually(async () => {
    const logs = await logsOf(t, projectId, _id);
    expect(logs).toHaveLength(1);
    return logs;
  });
  expect(first).toMatchObject({ attempt: 1, outcome: 'failed', statusCode: 500 });
  const due = Date.parse(first!.nextAttemptAt!) - publishedAt;
  // 600 s ± 20 % jitter.
  expect(due).toBeGreaterThan(470_000);
  expect(due).toBeLessThan(730_000);
  await eventually(async () => {
    expect(await queueCounts(t.stack.queues.delivery.url)).toEqual({ inFlight: 0, delayed: 1, visible: 0 });
  });
  expect(failing.received).toHaveLength(1);
});

it('honours a 12 h Retry-After: the retry is due 12 h out and waits outside the in-flight messages', async () => {
  const projectId = 'p-retry-after';
  const { _id } = await subscribe(t, projectId, 'request.create', throttling.url);
  await publish(t, [{ type: 'request.create', detail: { id_project: projectId } }]);
  const [first] = await eventually(async () => {
    const logs = await logsOf(t, projectId, _id);
    expect(logs).toHaveLength(1);
    return logs;
  });
  expect(first).toMatchObject({ attempt: 1, outcome: 'failed', statusCode: 503 });
  const dueIn = Date.parse(first!.nextAttemptAt!) - Date.parse((first as unknown as { attemptedAt: string }).attemptedAt);
  expect(dueIn).toBe(43_200_000);
  await eventually(async () => {
    const counts = await queueCounts(t.stack.queues.delivery.url);
    expect(counts.inFlight).toBe(0);
    expect(counts.delayed).toBe(2);
  });
});
