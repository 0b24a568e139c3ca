// Redriving the delivery DLQ after a real exhausted delivery: a move task without a destination
// cannot move it, because the delivery handler sent it to the DLQ itself (it has no
// DeadLetterQueueSourceArn); `npm run redrive-dlq` names the delivery queue and can.
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { runNpm } from '../support/npm-run';
import { barrier, eventually, logsOf, peekQueue, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
let healthy = false;

beforeAll(async () => {
  // Receivers answer at once; a generous timeout keeps a loaded machine from failing a healthy delivery.
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 5000 });
  hook = await startReceiver(() => (healthy ? { status: 200 } : { status: 502 }));
});
afterAll(async () => {
  await hook.close();
  await t.stop();
});

/** A newcomer's shell: no AWS variable exported (a loopback queue URL is all the tool needs). */
const noAwsVariables = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SQS', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'].map(
      (name) => [name, undefined],
    ),
  );

test('a dead-lettered delivery redriven with npm run redrive-dlq reaches the recovered receiver', async () => {
  const created = await subscribe(t, 'proj-redrive', 'department.update', hook.url);
  await publish(t, [{ type: 'department.update', detail: { id_project: 'proj-redrive', name: 'Support' } }]);
  await eventually(async () => {
    const bodies = await peekQueue(t, t.stack.queues.deliveryDlq.url);
    expect(bodies).toHaveLength(1);
  });
  expect(hook.received).toHaveLength(2);

  // As on AWS, a move without DestinationArn sends each message back to its original source
  // queue, and this one never had one: the task fails and the message stays in the DLQ.
  const sqs = new SQSClient({ endpoint: t.stack.awsEndpoint });
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: t.stack.queues.deliveryDlq.url, AttributeNames: ['QueueArn'] }));
  const dlqArn = Attributes!.QueueArn!;
  await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
  const failed = await eventually(async () => {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
    expect(Results[0]?.Status).toBe('FAILED');
    return Results[0]!;
  });
  expect(failed.FailureReason).toMatch(/no DeadLetterQueueSourceArn/);
  expect(failed.ApproximateNumberOfMessagesMoved).toBe(0);
  await eventually(async () => expect(await peekQueue(t, t.stack.queues.deliveryDlq.url)).toHaveLength(1));

  // npm run redrive-dlq names the destination: the delivery DLQ serves both lanes, and its
  // messages go to the fast lane's queue, where every delivery starts.
  healthy = true;
  const redrive = await runNpm('redrive-dlq', ['--dlq-url', t.stack.queues.deliveryDlq.url], noAwsVariables());
  expect(redrive.stderr).toBe('');
  expect(redrive.stdout).toContain(`COMPLETED: moved 1 message(s) to the DLQ's source queue ${t.stack.queues.delivery.url}`);
  expect(redrive.stdout).toContain('--to-url chooses another');
  expect(redrive.code).toBe(0);

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
