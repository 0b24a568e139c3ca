import { SQSClient } from '@aws-sdk/client-sqs';
import { redriveDlq } from '../../lib/tools/dlq-redrive';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { barrier, eventually, logsOf, peekQueue, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
let healthy = false;

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 1000 });
  hook = await startReceiver(() => (healthy ? { status: 200 } : { status: 502 }));
});
afterAll(async () => {
  await hook.close();
  await t.stop();
});

test('a dead-lettered delivery redriven from the DLQ reaches the recovered receiver', async () => {
  const created = await subscribe(t, 'proj-redrive', 'department.update', hook.url);
  await publish(t, [{ type: 'department.update', detail: { id_project: 'proj-redrive', name: 'Support' } }]);
  await eventually(async () => {
    const bodies = await peekQueue(t, t.stack.queues.deliveryDlq.url);
    expect(bodies).toHaveLength(1);
  });
  expect(hook.received).toHaveLength(2);

  healthy = true;
  const result = await redriveDlq(new SQSClient({ endpoint: t.stack.awsEndpoint }), t.stack.queues.deliveryDlq.url, 20_000);
  expect(result).toEqual({ moved: 1, status: 'COMPLETED' });

  const requests = await hook.waitFor(3);
  expect(requests[2]!.headers['webhook-id']).toBe(requests[0]!.headers['webhook-id']);
  await eventually(async () => {
    const logs = await logsOf(t, 'proj-redrive', created._id);
    expect(logs.map((log) => log.outcome)).toEqual(['failed', 'dead', 'delivered']);
  });
  expect(await peekQueue(t, t.stack.queues.deliveryDlq.url)).toHaveLength(0);
  // Delivered once after the redrive: nothing more past a barrier.
  await barrier(t, { afterRetries: 1 });
  expect(hook.received).toHaveLength(3);
  expect(await logsOf(t, 'proj-redrive', created._id)).toHaveLength(3);
});
