import { CreateQueueCommand, GetQueueAttributesCommand, Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EmulatorProcess, startEmulatorProcess } from '../../local/emulator-process';
import { LocalRule, entrySize, localEventBus } from '../../local/event-bus';

let fauxqs: EmulatorProcess;
let sqs: SQSClient;
beforeAll(async () => {
  fauxqs = await startEmulatorProcess('fauxqs', 'fauxqs-server.mjs', { FAUXQS_PORT: '0', FAUXQS_DATA_DIR: '' });
  sqs = new SQSClient({ endpoint: fauxqs.address, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(() => fauxqs.stop());

let queueCount = 0;
/** A standard queue to target (with a MessageGroupId, a fair one). */
async function queue(): Promise<{ url: string; arn: string }> {
  queueCount += 1;
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: `bus-target-${queueCount}` }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

async function received(url: string, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let round = 0; round < 20 && messages.length < count; round += 1) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['MessageGroupId'], MessageAttributeNames: ['All'] }),
    );
    messages.push(...Messages);
  }
  return messages;
}

/** What one more receive (a 1 s long poll) finds: an empty queue gives []. */
async function receivedAtOnce(url: string): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  return Messages;
}

const RULE_ARN = 'arn:aws:events:us-east-1:000000000000:rule/tiledesk/rule';

async function busWith(rule: Partial<LocalRule>, queuePermits?: (queueArn: string, rule: LocalRule) => Promise<boolean>) {
  const target = await queue();
  const dlq = await queue();
  const bus = localEventBus({
    busName: 'tiledesk',
    region: 'us-east-1',
    account: '000000000000',
    sqs,
    rules: [
      {
        name: 'rule',
        arn: RULE_ARN,
        pattern: { source: ['tiledesk'] },
        queueUrl: target.url,
        queueArn: target.arn,
        deadLetterQueueUrl: dlq.url,
        deadLetterQueueArn: dlq.arn,
        ...rule,
      },
    ],
    queuePermits,
  });
  const put = async (entries: unknown[]) => bus('PutEvents', Buffer.from(JSON.stringify({ Entries: entries })));
  return { target, dlq, put };
}

const entry = (detail: unknown) => ({ EventBusName: 'tiledesk', Source: 'tiledesk', DetailType: 'request.create', Detail: JSON.stringify(detail) });

// EventBridge documents dynamic paths for ECS, HTTP, Redshift and SageMaker target parameters
// only: a MessageGroupId that looks like a path is a constant like any other (docs/design.md §3.2).
test('a MessageGroupId that looks like a JSON path is sent as written, not read from the event', async () => {
  const { target, put } = await busWith({ messageGroupId: '$.detail.id_project' });
  await put([entry({ id_project: 'p-a' }), entry({ id_project: 'p-b' }), entry({ other: 1 })]);
  const messages = await received(target.url, 3);
  expect(messages.map((message) => message.Attributes?.MessageGroupId)).toEqual(['$.detail.id_project', '$.detail.id_project', '$.detail.id_project']);
});

test('a constant MessageGroupId is sent as it is', async () => {
  const { target, put } = await busWith({ messageGroupId: 'everyone' });
  await put([entry({ id_project: 'p-a' })]);
  const [message] = await received(target.url, 1);
  expect(message?.Attributes?.MessageGroupId).toBe('everyone');
});

test('PutEvents counts 256 KB as EventBridge does: the entries\' fields, not the request\'s JSON', async () => {
  const { put } = await busWith({});
  // Quotes double in the request's JSON, not in the entry's size.
  const quoted = entry({ text: '"'.repeat(120 * 1024) });
  expect(entrySize(quoted)).toBeLessThan(256 * 1024);
  expect(JSON.stringify({ Entries: [quoted] }).length).toBeGreaterThan(256 * 1024);
  expect((await put([quoted])).status).toBe(200);

  const big = entry({ text: 'x'.repeat(130 * 1024) });
  const refused = await put([big, big]);
  expect(refused).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
  expect(await put(Array.from({ length: 11 }, () => entry({ id_project: 'p' })))).toMatchObject({ status: 400 });
});

test("a queue whose policy does not let EventBridge send for the rule gets nothing; the event goes to the rule's DLQ at once, not retried", async () => {
  const asked: string[] = [];
  const { target, dlq, put } = await busWith({}, async (queueArn, rule) => {
    asked.push(`${queueArn} ${rule.arn}`);
    return queueArn !== target.arn;
  });
  const reply = await put([entry({ id_project: 'p' })]);
  // The entry itself succeeded: EventBridge accepted the event.
  expect(reply.body).toMatchObject({ FailedEntryCount: 0 });
  const [dead] = await received(dlq.url, 1);
  expect(dead?.MessageAttributes?.ERROR_CODE?.StringValue).toBe('NO_PERMISSIONS');
  expect(dead?.MessageAttributes?.RETRY_ATTEMPTS?.StringValue).toBe('0');
  expect(dead?.MessageAttributes?.RULE_ARN?.StringValue).toBe(RULE_ARN);
  expect(dead?.MessageAttributes?.ERROR_MESSAGE?.StringValue).toContain('events.amazonaws.com');
  expect(await receivedAtOnce(target.url)).toEqual([]);
  expect(asked).toEqual([`${target.arn} ${RULE_ARN}`, `${dlq.arn} ${RULE_ARN}`]);
});

test("an event is lost, said in one line, when neither the queue's nor the DLQ's policy lets EventBridge send", async () => {
  const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const { target, dlq, put } = await busWith({}, async () => false);
    expect((await put([entry({ id_project: 'p' })])).body).toMatchObject({ FailedEntryCount: 0 });
    expect(await receivedAtOnce(dlq.url)).toEqual([]);
    expect(await receivedAtOnce(target.url)).toEqual([]);
    expect(errors.mock.calls.map(([line]) => String(line))).toEqual([expect.stringMatching(/NO_PERMISSIONS.*its queue policy does not allow events\.amazonaws\.com.*InvocationsFailedToBeSentToDlq/)]);
  } finally {
    errors.mockRestore();
  }
});

test('a policy that cannot be evaluated is said in one line and retried, not taken for a refusal', async () => {
  const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    let asked = 0;
    const { target, dlq, put } = await busWith({}, async () => {
      asked += 1;
      if (asked === 1) throw new Error('evaluator broke');
      return true;
    });
    expect((await put([entry({ id_project: 'p' })])).body).toMatchObject({ FailedEntryCount: 0 });
    // Retried after about a second (EventBridge's backoff), and delivered then.
    expect(await received(target.url, 1)).toHaveLength(1);
    expect(await receivedAtOnce(dlq.url)).toEqual([]);
    expect(errors.mock.calls.map(([line]) => String(line))).toEqual([expect.stringContaining('could not evaluate the policy of')]);
  } finally {
    errors.mockRestore();
  }
});
