// The fan-out queue is a fair queue: the rule target's MessageGroupId is the dynamic path
// $.detail.id_project (template test: test/lib/event-routing.test.ts), so the local bus sends
// each event with its project as tenant, as EventBridge does on AWS (docs/design.md §3.2).
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EVENT_RULE_PATTERN, FAN_OUT } from '../../lambdas/core/settings';
import { localEventBus, targetParameter } from '../../local/event-bus';
import { TestStack, startTestStack } from '../support/local-stack-harness';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t?.stop();
});

it('sends each event to the fan-out queue with its project as the message group', async () => {
  // fauxqs keeps no MessageGroupId on a standard queue, so the bus's SQS requests are read as
  // they leave: the same bus, rule pattern and target parameter the stack wires, a real queue.
  const sqs = new SQSClient({ endpoint: t.stack.awsEndpoint });
  const sent: { MessageGroupId?: string; MessageBody?: string }[] = [];
  sqs.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Entries?: { MessageGroupId?: string; MessageBody?: string }[] };
      sent.push(...(input.Entries ?? []));
      return next(args);
    },
    { step: 'initialize' },
  );
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'fair-fan-out-probe' }));
  const bus = localEventBus({
    busName: t.stack.busName,
    region: 'us-east-1',
    account: '000000000000',
    rules: [{ name: 'probe', arn: 'arn:aws:events:us-east-1:000000000000:rule/probe', pattern: EVENT_RULE_PATTERN, queueUrl: QueueUrl!, queueArn: 'arn:aws:sqs:us-east-1:000000000000:probe', messageGroupId: FAN_OUT.messageGroupIdPath }],
    sqs,
  });
  const detail = (projectId: string, n: number) => JSON.stringify({ id_project: projectId, n });
  const answer = await bus(
    'PutEvents',
    Buffer.from(
      JSON.stringify({
        Entries: [
          { EventBusName: t.stack.busName, Source: 'tiledesk', DetailType: 'request.create', Detail: detail('p-burst', 1) },
          { EventBusName: t.stack.busName, Source: 'tiledesk', DetailType: 'request.create', Detail: detail('p-quiet', 2) },
          { EventBusName: t.stack.busName, Source: 'tiledesk', DetailType: 'message.create', Detail: detail('p-burst', 3) },
        ],
      }),
    ),
  );
  expect(answer).toMatchObject({ status: 200, body: { FailedEntryCount: 0 } });
  expect(sent.map((entry) => [entry.MessageGroupId, (JSON.parse(entry.MessageBody!) as { detail: { n: number } }).detail.n])).toEqual([
    ['p-burst', 1],
    ['p-quiet', 2],
    ['p-burst', 3],
  ]);
  // and SQS took them: they are on the queue.
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  expect(Messages.length).toBeGreaterThan(0);
});

describe('target parameters', () => {
  const envelope = {
    version: '0' as const,
    id: 'e1',
    'detail-type': 'request.create',
    source: 'tiledesk',
    account: '000000000000',
    time: '2026-12-03T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { id_project: 'p1', nested: { n: 7 }, list: [1] },
  };

  it('reads a dynamic path from the event and keeps a static value as it is', () => {
    expect(targetParameter(FAN_OUT.messageGroupIdPath, envelope)).toBe('p1');
    expect(targetParameter('$.detail.nested.n', envelope)).toBe('7');
    expect(targetParameter('$.source', envelope)).toBe('tiledesk');
    expect(targetParameter('static-group', envelope)).toBe('static-group');
  });

  it('gives nothing for a path that reaches no scalar', () => {
    expect(targetParameter('$.detail.missing', envelope)).toBeUndefined();
    expect(targetParameter('$.detail.nested', envelope)).toBeUndefined();
    expect(targetParameter('$.detail.__proto__', envelope)).toBeUndefined();
  });
});
