// Lambda's SQS event source as the local stack runs it, against the real local SQS layer:
// throttling (receive count + 1, then the DLQ), unknown failure ids, the function timeout,
// scaling within MaximumConcurrency, and the visibility-timeout rule Lambda enforces.
import { GetQueueAttributesCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { LambdaConcurrency, localLambdaLimits } from '../../local/lambda-concurrency';
import {
  InvalidBatchResponseError,
  InvocationTrace,
  LambdaThrottledError,
  LambdaTimeoutError,
  SqsEventSource,
  SqsEventSourceOptions,
  startSqsEventSource,
} from '../../local/sqs-event-source';
import { eventually } from '../support/pipeline';
import { SqsEndpoint, startSqsEndpoint } from '../support/sqs-endpoint';

let endpoint: SqsEndpoint;
const sources: SqsEventSource[] = [];
beforeAll(async () => {
  endpoint = await startSqsEndpoint();
});
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});
afterAll(() => endpoint.stop());

let queues = 0;
async function queueWithDlq(visibilityTimeoutSeconds: number, maxReceiveCount = 10) {
  queues++;
  const dlq = await endpoint.createQueue(`es-dlq-${queues}`);
  const queue = await endpoint.createQueue(`es-${queues}`, {
    VisibilityTimeout: String(visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount }),
  });
  return { queue, dlq };
}

function start(options: Partial<SqsEventSourceOptions> & Pick<SqsEventSourceOptions, 'queueUrl' | 'queueArn' | 'handler'>): SqsEventSource {
  const source = startSqsEventSource({
    sqs: endpoint.sqs,
    functionName: 'fn',
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    reportBatchItemFailures: true,
    functionTimeoutSeconds: 1,
    visibilityTimeoutSeconds: 2,
    region: 'us-east-1',
    ...options,
  });
  sources.push(source);
  return source;
}

async function messagesIn(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await endpoint.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

const limits = localLambdaLimits();

test('a throttled batch comes back after its visibility timeout with its receive count raised', async () => {
  const { queue } = await queueWithDlq(2);
  const concurrency = new LambdaConcurrency(limits, { fn: 1 });
  // Another invocation holds the function's only reserved execution.
  expect(concurrency.tryAcquire('fn')).toBe(true);
  const receiveCounts: string[] = [];
  const throttles: LambdaThrottledError[] = [];
  await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'one' }));
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    concurrency,
    handler: async (event: SQSEvent) => {
      receiveCounts.push(...event.Records.map((record) => record.attributes.ApproximateReceiveCount));
    },
    onThrottle: (error) => {
      throttles.push(error);
      concurrency.release('fn');
    },
  });
  await eventually(() => expect(receiveCounts).toEqual(['2']), 15_000);
  expect(throttles).toHaveLength(1);
  await eventually(async () => expect(await messagesIn(queue.url)).toBe(0));
});

test('a batch throttled on every receive reaches the DLQ as poison', async () => {
  const { queue, dlq } = await queueWithDlq(2, 2);
  const concurrency = new LambdaConcurrency(limits, { fn: 0 });
  const handled: string[] = [];
  let throttles = 0;
  await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'starved' }));
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    concurrency,
    handler: async (event: SQSEvent) => {
      handled.push(...event.Records.map((record) => record.body));
    },
    onThrottle: () => throttles++,
  });
  await eventually(async () => expect(await messagesIn(dlq.url)).toBe(1), 20_000);
  expect(handled).toEqual([]);
  expect(throttles).toBe(2);
});

test.each([
  ['an id not in the batch', 'not-a-message-of-this-batch'],
  ['an empty id', ''],
  ['a null id', null],
])('a batch response naming %s fails the whole batch', async (_case, itemIdentifier) => {
  const { queue } = await queueWithDlq(2);
  const handled: string[] = [];
  const errors: unknown[] = [];
  await endpoint.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: [
        { Id: 'a', MessageBody: 'a' },
        { Id: 'b', MessageBody: 'b' },
      ],
    }),
  );
  let calls = 0;
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    handler: async (event: SQSEvent) => {
      handled.push(...event.Records.map((record) => `${record.body}:${record.attributes.ApproximateReceiveCount}`));
      calls++;
      return calls === 1 ? { batchItemFailures: [{ itemIdentifier }] } : { batchItemFailures: [] };
    },
    onError: (error) => errors.push(error),
  });
  await eventually(() => expect(handled.sort()).toEqual(['a:1', 'a:2', 'b:1', 'b:2']), 15_000);
  expect(errors).toEqual([expect.any(InvalidBatchResponseError)]);
  await eventually(async () => expect(await messagesIn(queue.url)).toBe(0));
});

test('a valid partial batch response returns only the failed message', async () => {
  const { queue } = await queueWithDlq(2);
  const handled: string[] = [];
  await endpoint.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: [
        { Id: 'a', MessageBody: 'a' },
        { Id: 'b', MessageBody: 'b' },
      ],
    }),
  );
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    handler: async (event: SQSEvent) => {
      handled.push(...event.Records.map((record) => `${record.body}:${record.attributes.ApproximateReceiveCount}`));
      const b = event.Records.find((record) => record.body === 'b' && record.attributes.ApproximateReceiveCount === '1');
      return { batchItemFailures: b ? [{ itemIdentifier: b.messageId }] : [] };
    },
  });
  await eventually(() => expect(handled.sort()).toEqual(['a:1', 'b:1', 'b:2']), 15_000);
});

test('an invocation past the function timeout ends, and its messages come back after the visibility timeout', async () => {
  const { queue } = await queueWithDlq(2);
  const handled: string[] = [];
  const errors: unknown[] = [];
  await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'slow' }));
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    functionTimeoutSeconds: 1,
    handler: async (event: SQSEvent) => {
      const count = event.Records[0]!.attributes.ApproximateReceiveCount;
      handled.push(count);
      if (count === '1') await new Promise((resolve) => setTimeout(resolve, 3000));
    },
    onError: (error) => errors.push(error),
  });
  await eventually(() => expect(handled).toEqual(['1', '2']), 15_000);
  expect(errors).toEqual([expect.any(LambdaTimeoutError)]);
  await eventually(async () => expect(await messagesIn(queue.url)).toBe(0));
});

test('starts with five concurrent batches, scales up while messages remain, never past MaximumConcurrency', async () => {
  const { queue } = await queueWithDlq(30);
  for (let start = 0; start < 200; start += 10) {
    await endpoint.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: Array.from({ length: 10 }, (_, index) => ({ Id: `m${index}`, MessageBody: `${start + index}` })) }),
    );
  }
  let running = 0;
  let most = 0;
  const mostAt: { ms: number; most: number }[] = [];
  const startedAt = Date.now();
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    batchSize: 1,
    maximumConcurrency: 8,
    functionTimeoutSeconds: 10,
    visibilityTimeoutSeconds: 30,
    handler: async () => {
      running++;
      most = Math.max(most, running);
      mostAt.push({ ms: Date.now() - startedAt, most });
      await new Promise((resolve) => setTimeout(resolve, 200));
      running--;
    },
  });
  await eventually(() => expect(most).toBe(8), 20_000);
  // Before the first scaling tick (1 s) no more than the five initial batches ran.
  expect(Math.max(0, ...mostAt.filter((entry) => entry.ms < 900).map((entry) => entry.most))).toBeLessThanOrEqual(5);
  await eventually(async () => expect(await messagesIn(queue.url)).toBe(0), 30_000);
  expect(most).toBe(8);
});

/** An event source whose every batch holds its poller `holdMs`, as a hanging receiver holds a delivery batch. */
function startHolding(queue: { url: string; arn: string }, batchSize: number, holdMs: number) {
  const seen = { running: 0, most: 0, ended: 0, mostBeforeAnyEnded: 0 };
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    batchSize,
    maximumConcurrency: 20,
    functionTimeoutSeconds: 10,
    visibilityTimeoutSeconds: 30,
    handler: async () => {
      seen.running++;
      seen.most = Math.max(seen.most, seen.running);
      if (seen.ended === 0) seen.mostBeforeAnyEnded = Math.max(seen.mostBeforeAnyEnded, seen.running);
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      seen.ended++;
      seen.running--;
    },
  });
  return seen;
}

test('while every batch is busy and messages wait, scales up without waiting for a batch to end', async () => {
  const { queue } = await queueWithDlq(30);
  const seen = startHolding(queue, 10, 4000);
  // One message at a time: each wakes one of the five idle pollers, whose batch then holds it.
  for (let n = 0; n < 5; n++) {
    await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: `first ${n}` }));
    await eventually(() => expect(seen.running).toBe(n + 1), 2000);
  }
  // No receive is full, none is empty, and none can happen while the five batches last: only
  // the queue's backlog shows that messages remain.
  await endpoint.sqs.send(
    new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: Array.from({ length: 10 }, (_, index) => ({ Id: `m${index}`, MessageBody: `${index}` })) }),
  );
  await eventually(() => expect(seen.most).toBeGreaterThan(5), 3000);
  expect(seen.ended).toBe(0);
  expect(seen.mostBeforeAnyEnded).toBeGreaterThan(5);
});

test('with every batch busy and the queue empty, it does not scale up', async () => {
  const { queue } = await queueWithDlq(30);
  await endpoint.sqs.send(
    new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: Array.from({ length: 5 }, (_, index) => ({ Id: `m${index}`, MessageBody: `${index}` })) }),
  );
  const seen = startHolding(queue, 1, 3500);
  await eventually(() => expect(seen.running).toBe(5), 5000);
  // Three ticks with all five busy and nothing waiting: no poller is added.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(seen.running).toBe(5);
  expect(seen.most).toBe(5);
});

test.each([
  [false, 'backs off', (most: number) => expect(most).toBeLessThanOrEqual(2)],
  [true, 'keeps its batches (Lambda does not scale down with ReportBatchItemFailures)', (most: number) => expect(most).toBeGreaterThanOrEqual(5)],
])('with ReportBatchItemFailures %s, an event source whose function keeps failing %s', async (reportBatchItemFailures, _what, check) => {
  const { queue } = await queueWithDlq(2, 1000);
  for (let start = 0; start < 100; start += 10) {
    await endpoint.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: Array.from({ length: 10 }, (_, index) => ({ Id: `m${index}`, MessageBody: `${start + index}` })) }),
    );
  }
  let running = 0;
  let mostLate = 0;
  const startedAt = Date.now();
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    batchSize: 1,
    maximumConcurrency: 10,
    reportBatchItemFailures,
    handler: async () => {
      running++;
      if (Date.now() - startedAt > 3000) mostLate = Math.max(mostLate, running);
      await new Promise((resolve) => setTimeout(resolve, 100));
      running--;
      throw new Error('failing on purpose');
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 5000));
  expect(mostLate).toBeGreaterThan(0);
  check(mostLate);
});

test('Lambda refuses an event source whose queue visibility timeout is shorter than the function timeout', () => {
  expect(() =>
    startSqsEventSource({
      sqs: endpoint.sqs,
      queueUrl: 'http://127.0.0.1:1/000000000000/q',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:q',
      functionName: 'delivery',
      handler: async () => undefined,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      reportBatchItemFailures: true,
      functionTimeoutSeconds: 60,
      visibilityTimeoutSeconds: 8,
      region: 'us-east-1',
    }),
  ).toThrow('delivery: Lambda refuses an SQS event source whose queue visibility timeout (8 s) is shorter than the function timeout (60 s)');
});

test('the local stack refuses the same, naming its two settings, before it starts anything', async () => {
  const { startLocalStack } = await import('../../local/local-stack');
  await expect(startLocalStack({ port: 0, awsPort: 0, jwtSecret: 'x', deliveryVisibilityTimeoutSeconds: 8 })).rejects.toThrow(
    'deliveryVisibilityTimeoutSeconds (8 s) is shorter than deliveryFunctionTimeoutSeconds (60 s): ' +
      'Lambda refuses an SQS event source whose queue visibility timeout is shorter than its function timeout',
  );
});

test('the local stack refuses an SQS copy rate outside 0–1, or with a data folder, before it starts anything', async () => {
  const { startLocalStack } = await import('../../local/local-stack');
  await expect(startLocalStack({ port: 0, awsPort: 0, jwtSecret: 'x', sqsDuplicateRate: 1.5 })).rejects.toThrow('sqsDuplicateRate must be between 0 and 1, not 1.5');
  await expect(startLocalStack({ port: 0, awsPort: 0, jwtSecret: 'x', sqsDuplicateRate: 0.1, dataDir: '/nonexistent' })).rejects.toThrow(
    'sqsDuplicateRate cannot be used with dataDir',
  );
});

test('reserved concurrency leaves the account its minimum unreserved executions', () => {
  expect(() => new LambdaConcurrency(limits, { delivery: limits.accountConcurrency })).toThrow(/Lambda keeps at least 10 unreserved/);
});

test('each invocation is told once it ends, a failing one too: its records, first receive, start and end', async () => {
  const { queue } = await queueWithDlq(5);
  const traces: InvocationTrace[] = [];
  let calls = 0;
  start({
    queueUrl: queue.url,
    queueArn: queue.arn,
    onInvocation: (trace) => traces.push(trace),
    handler: async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (calls === 1) throw new Error('first invocation fails');
      return { batchItemFailures: [] };
    },
  });
  const sentAt = Date.now();
  await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'traced' }));
  await eventually(() => expect(traces.length).toBeGreaterThanOrEqual(1));
  const [first] = traces;
  expect(first!.functionName).toBe('fn');
  expect(first!.records.map((record) => record.body)).toEqual(['traced']);
  expect(Number(first!.records[0]!.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAt - 1000);
  expect(first!.receivedAt).toBeGreaterThanOrEqual(Number(first!.records[0]!.attributes.SentTimestamp) - 1000);
  expect(first!.startedAt).toBeGreaterThanOrEqual(first!.receivedAt);
  expect(first!.endedAt - first!.startedAt).toBeGreaterThanOrEqual(45);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(traces).toHaveLength(calls);
});
