// The local SQS layer (fauxqs with local/fauxqs-sqs-rules.mjs, behind the local AWS endpoint)
// does what AWS documents where fauxqs alone would not: fair queues on MessageGroupId, message
// move tasks with DeadLetterQueueSourceArn (kept across a DATA_DIR restart), retention expiry,
// DelaySeconds and size limits; short polls that ask some of the servers; when asked,
// at-least-once delivery's copies.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { SqsEndpoint, startSqsEndpoint } from '../support/sqs-endpoint';

let endpoint: SqsEndpoint;
beforeAll(async () => {
  endpoint = await startSqsEndpoint();
});
afterAll(() => endpoint.stop());

async function send(queueUrl: string, groupId: string, count: number, prefix = groupId): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const size = Math.min(10, count - start);
    await endpoint.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: size }, (_, index) => ({ Id: `m${index}`, MessageBody: `${prefix}${start + index}`, MessageGroupId: groupId })),
      }),
    );
  }
}

/** Receives `count` messages and keeps them in flight (a consumer still working on them). */
async function hold(queueUrl: string, count: number): Promise<Message[]> {
  const held: Message[] = [];
  while (held.length < count) {
    const { Messages = [] } = await endpoint.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, count - held.length), VisibilityTimeout: 300, WaitTimeSeconds: 1 }),
    );
    if (Messages.length === 0) throw new Error(`only ${held.length} of ${count} messages to hold`);
    held.push(...Messages);
  }
  return held;
}

async function receive(queueUrl: string, max = 10, visibilityTimeout = 300): Promise<Message[]> {
  const { Messages = [] } = await endpoint.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      VisibilityTimeout: visibilityTimeout,
      // A long poll asks every server (a short poll may miss ready messages).
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages;
}

describe('fair queues (standard queue, MessageGroupId)', () => {
  test("serves a quiet tenant's message ahead of a tenant holding ≥ 30 messages in flight", async () => {
    const queue = await endpoint.createQueue('fair-noisy');
    await send(queue.url, 'noisy', 40);
    await hold(queue.url, 40);
    await send(queue.url, 'noisy', 10, 'later');
    await send(queue.url, 'quiet', 1);
    const batch = await receive(queue.url, 3);
    expect(batch.map((message) => message.Body)).toEqual(['quiet0', 'later0', 'later1']);
    expect(batch[0]!.Attributes?.MessageGroupId).toBe('quiet');
    expect(batch[1]!.Attributes?.MessageGroupId).toBe('noisy');
  });

  test("serves a quiet tenant's message ahead of a tenant taking > 10 % of the recent processing time", async () => {
    const queue = await endpoint.createQueue('fair-slow');
    await send(queue.url, 'slow', 3);
    const held = await hold(queue.url, 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await endpoint.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: held.map((message, index) => ({ Id: `d${index}`, ReceiptHandle: message.ReceiptHandle })) }),
    );
    await send(queue.url, 'slow', 2, 'later');
    await send(queue.url, 'quiet', 1);
    const batch = await receive(queue.url, 3);
    expect(batch.map((message) => message.Body)).toEqual(['quiet0', 'later0', 'later1']);
  });

  test('keeps plain order when no tenant is noisy (29 in flight is under the threshold)', async () => {
    const queue = await endpoint.createQueue('fair-plain');
    await send(queue.url, 'busy', 29);
    await hold(queue.url, 29);
    await send(queue.url, 'busy', 3, 'later');
    await send(queue.url, 'other', 1);
    const batch = await receive(queue.url, 4);
    expect(batch.map((message) => message.Body)).toEqual(['later0', 'later1', 'later2', 'other0']);
  });

  test('a tenant with 30 in flight is not noisy when that is only 10 % of the queue in flight', async () => {
    const queue = await endpoint.createQueue('fair-share');
    // 30 of 300 in flight is 10 %, not more: 't30' is quiet, and so is every 1-message tenant.
    await send(queue.url, 't30', 30);
    for (let tenant = 0; tenant < 27; tenant++) await send(queue.url, `solo${tenant}`, 10);
    await hold(queue.url, 300);
    await send(queue.url, 't30', 2, 'later');
    await send(queue.url, 'quiet', 1);
    const batch = await receive(queue.url, 3);
    expect(batch.map((message) => message.Body)).toEqual(['later0', 'later1', 'quiet0']);
  });
});

describe('long polling', () => {
  const longPoll = (queueUrl: string, waitSeconds: number) => {
    const started = Date.now();
    return endpoint.sqs
      .send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, VisibilityTimeout: 300 }))
      .then(({ Messages = [] }) => ({ bodies: Messages.map((message) => message.Body), afterMs: Date.now() - started }));
  };

  test('one arrival answers one waiting receive; the others keep waiting and answer empty at their wait time', async () => {
    const queue = await endpoint.createQueue('long-poll');
    const polls = Array.from({ length: 5 }, () => longPoll(queue.url, 2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'one' }));
    const answers = await Promise.all(polls);
    const withMessage = answers.filter((answer) => answer.bodies.length > 0);
    expect(withMessage.map((answer) => answer.bodies)).toEqual([['one']]);
    expect(withMessage[0]!.afterMs).toBeLessThan(1500);
    // fauxqs alone answers all four at once, empty, when the message arrives.
    for (const answer of answers.filter((answer) => answer.bodies.length === 0)) expect(answer.afterMs).toBeGreaterThanOrEqual(1900);
  });

  test('arrivals while receives wait are all delivered, each receive waking the next', async () => {
    const queue = await endpoint.createQueue('long-poll-many');
    const polls = Array.from({ length: 3 }, () => longPoll(queue.url, 2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const body of ['a', 'b', 'c']) await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    const answers = await Promise.all(polls);
    const rest = await receive(queue.url);
    expect([...answers.flatMap((answer) => answer.bodies), ...rest.map((message) => message.Body)].sort()).toEqual(['a', 'b', 'c']);
    expect(answers.filter((answer) => answer.bodies.length > 0).every((answer) => answer.afterMs < 1500)).toBe(true);
  });
});

describe('short polls (WaitTimeSeconds 0)', () => {
  const poll = async (queueUrl: string, waitSeconds: number): Promise<string[]> => {
    const { Messages = [] } = await endpoint.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: waitSeconds }),
    );
    return Messages.map((message) => message.Body ?? '');
  };

  test('a short poll may answer empty while a message waits; a later one returns it, and a long poll always does', async () => {
    const queue = await endpoint.createQueue('short-poll-one');
    await send(queue.url, 'tenant', 1, 'only');
    const answers = [];
    for (let n = 0; n < 200; n++) answers.push((await poll(queue.url, 0)).length);
    // Each asks 4 of 5 servers: about 40 of 200 miss it (none missing it: 0.8^200).
    expect(answers.filter((count) => count === 0).length).toBeGreaterThan(10);
    expect(answers.filter((count) => count === 1).length).toBeGreaterThan(100);
    for (let n = 0; n < 20; n++) expect(await poll(queue.url, 1)).toEqual(['only0']);
  });

  test('short polls of ten ready messages return some of them each, all of them between them, none twice in an answer', async () => {
    const queue = await endpoint.createQueue('short-poll-ten');
    await send(queue.url, 'tenant', 10, 'm');
    const seen = new Set<string>();
    let short = 0;
    for (let n = 0; n < 50; n++) {
      const bodies = await poll(queue.url, 0);
      expect(new Set(bodies).size).toBe(bodies.length);
      if (bodies.length < 10) short++;
      for (const body of bodies) seen.add(body);
    }
    expect(short).toBeGreaterThan(0);
    expect(seen.size).toBe(10);
    expect((await poll(queue.url, 1)).sort()).toEqual(Array.from({ length: 10 }, (_, n) => `m${n}`).sort());
  });
});

describe('message move tasks', () => {
  test('without DestinationArn, a message goes back to its source queue; one sent to the DLQ directly fails the task and stays', async () => {
    const dlq = await endpoint.createQueue('move-dlq');
    const source = await endpoint.createQueue('move-source', {
      VisibilityTimeout: '0',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }),
    });
    await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: source.url, MessageBody: 'redriven', MessageGroupId: 'p1' }));
    // The first receive counts 1; the second finds it past maxReceiveCount and SQS moves it.
    expect(await receive(source.url, 1, 0)).toHaveLength(1);
    expect(await receive(source.url, 1, 0)).toHaveLength(0);
    const [moved] = await receive(dlq.url, 1, 0);
    expect(moved!.Attributes?.DeadLetterQueueSourceArn).toBe(source.arn);

    const completed = await runMoveTask(dlq.arn);
    expect(completed).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 1 });
    expect(completed.DestinationArn).toBeUndefined();
    const [back] = await receive(source.url, 1);
    expect(back!.Body).toBe('redriven');
    expect(back!.MessageId).not.toBe(moved!.MessageId);
    expect(back!.Attributes?.MessageGroupId).toBe('p1');

    await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'sent directly' }));
    const failed = await runMoveTask(dlq.arn);
    expect(failed.Status).toBe('FAILED');
    expect(failed.FailureReason).toMatch(/no DeadLetterQueueSourceArn/);
    const [stayed] = await receive(dlq.url, 1, 0);
    expect(stayed!.Body).toBe('sent directly');

    const explicit = await runMoveTask(dlq.arn, source.arn);
    expect(explicit).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 1, DestinationArn: source.arn });
    expect((await receive(source.url, 1)).map((message) => message.Body)).toEqual(['sent directly']);
  });

  test('refuses a source queue that is no queue’s DLQ', async () => {
    const lonely = await endpoint.createQueue('move-lonely');
    await expect(endpoint.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: lonely.arn }))).rejects.toThrow(
      /Source queue must be configured as a Dead Letter Queue/,
    );
  });

  test.each([
    ['standard', '', {}],
    ['FIFO', '.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'true' }],
  ])('a DATA_DIR restart keeps where a %s DLQ message came from, so a move without a destination still finds it', async (_kind, suffix, fifo) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tiledesk-webhooks-sqs-'));
    try {
      const first = await startSqsEndpoint({ dataDir });
      let source: { url: string; arn: string };
      try {
        const dlq = await first.createQueue(`restart-dlq${suffix}`, fifo);
        source = await first.createQueue(`restart-source${suffix}`, {
          ...fifo,
          VisibilityTimeout: '0',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }),
        });
        await first.sqs.send(new SendMessageCommand({ QueueUrl: source.url, MessageBody: 'kept', MessageGroupId: 'p1' }));
        await first.sqs.send(new ReceiveMessageCommand({ QueueUrl: source.url, VisibilityTimeout: 0, WaitTimeSeconds: 1 }));
        expect((await first.sqs.send(new ReceiveMessageCommand({ QueueUrl: source.url, VisibilityTimeout: 0, WaitTimeSeconds: 1 }))).Messages ?? []).toHaveLength(0);
      } finally {
        await first.stop();
      }

      const second = await startSqsEndpoint({ dataDir });
      try {
        const { QueueUrl: dlqUrl } = await second.sqs.send(new GetQueueUrlCommand({ QueueName: `restart-dlq${suffix}` }));
        const { Messages = [] } = await second.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: dlqUrl, VisibilityTimeout: 0, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
        );
        expect(Messages.map((message) => [message.Body, message.Attributes?.DeadLetterQueueSourceArn])).toEqual([['kept', source.arn]]);
        const { Attributes } = await second.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
        expect(await runMoveTask(Attributes!.QueueArn!, undefined, second.sqs)).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 1 });
        const { QueueUrl: sourceUrl } = await second.sqs.send(new GetQueueUrlCommand({ QueueName: `restart-source${suffix}` }));
        const { Messages: back = [] } = await second.sqs.send(new ReceiveMessageCommand({ QueueUrl: sourceUrl, WaitTimeSeconds: 1 }));
        expect(back.map((message) => message.Body)).toEqual(['kept']);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  async function runMoveTask(sourceArn: string, destinationArn?: string, sqs = endpoint.sqs) {
    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
    for (;;) {
      const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn }));
      if (Results[0] && Results[0].Status !== 'RUNNING') return Results[0];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});

describe('limits', () => {
  test('DelaySeconds must be 0–900, per message and per batch entry', async () => {
    const queue = await endpoint.createQueue('limits-delay');
    await expect(endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'x', DelaySeconds: 901 }))).rejects.toThrow(
      /DelaySeconds must be >= 0 and <= 900/,
    );
    const { Successful = [], Failed = [] } = await endpoint.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: 'ok', MessageBody: 'ok', DelaySeconds: 900 },
          { Id: 'late', MessageBody: 'late', DelaySeconds: 901 },
        ],
      }),
    );
    expect(Successful.map((entry) => entry.Id)).toEqual(['ok']);
    expect(Failed).toEqual([expect.objectContaining({ Id: 'late', Code: 'InvalidParameterValue', SenderFault: true })]);
  });

  test('a MessageGroupId is 1–128 letters, digits and ASCII punctuation, per message and per batch entry', async () => {
    const queue = await endpoint.createQueue('limits-group');
    for (const bad of ['has space', 'accentué', 'x'.repeat(129)]) {
      await expect(endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'x', MessageGroupId: bad }))).rejects.toThrow(
        /MessageGroupId is invalid/,
      );
    }
    const { Successful = [], Failed = [] } = await endpoint.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: 'ok', MessageBody: 'ok', MessageGroupId: `a-Z_0.9:!"#$%&'()*+,/;<=>?@[\\]^\`{|}~${'x'.repeat(90)}` },
          { Id: 'bad', MessageBody: 'bad', MessageGroupId: 'tab\there' },
        ],
      }),
    );
    expect(Successful.map((entry) => entry.Id)).toEqual(['ok']);
    expect(Failed).toEqual([expect.objectContaining({ Id: 'bad', Code: 'InvalidParameterValue', SenderFault: true })]);
  });

  test('a message body is at most 1 MiB (1,048,576 bytes)', async () => {
    const queue = await endpoint.createQueue('limits-size');
    await expect(endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'x'.repeat(1_048_576) }))).resolves.toBeDefined();
    await expect(endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'x'.repeat(1_048_577) }))).rejects.toThrow(
      /shorter than 1048576 bytes/,
    );
  });

  test('a message is deleted once it is older than the queue’s retention period (60 s, the least SQS allows)', async () => {
    const queue = await endpoint.createQueue('limits-retention', { MessageRetentionPeriod: '60' });
    await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'old' }));
    await new Promise((resolve) => setTimeout(resolve, 50_000));
    await endpoint.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'young' }));
    // Seen and let go again at once: a receive does not keep a message alive.
    expect((await receive(queue.url, 10, 0)).map((message) => message.Body).sort()).toEqual(['old', 'young']);
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    expect((await receive(queue.url, 10, 0)).map((message) => message.Body)).toEqual(['young']);
  }, 90_000);
});

describe('at-least-once delivery (duplicateRate)', () => {
  let copying: SqsEndpoint;
  beforeAll(async () => {
    copying = await startSqsEndpoint({ duplicateRate: 1 });
  });
  afterAll(() => copying.stop());

  test('a received message comes again, same id and body, even after it was deleted; a copy leaves no copy', async () => {
    const queue = await copying.createQueue('copies');
    await copying.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'once', MessageGroupId: 'tenant' }));
    const receiveAll = async () =>
      (await copying.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, VisibilityTimeout: 300, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];
    const [first] = await receiveAll();
    expect(first?.Body).toBe('once');
    await copying.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: [{ Id: 'a', ReceiptHandle: first!.ReceiptHandle! }] }));
    const [copy, ...more] = await receiveAll();
    expect(more).toEqual([]);
    expect(copy).toMatchObject({ MessageId: first!.MessageId, Body: 'once' });
    expect(copy!.ReceiptHandle).not.toBe(first!.ReceiptHandle);
    // The copy's server never saw the first receive: its count starts again from there.
    expect(copy!.Attributes).toMatchObject({ ApproximateReceiveCount: '1', MessageGroupId: 'tenant' });
    await copying.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: [{ Id: 'a', ReceiptHandle: copy!.ReceiptHandle! }] }));
    expect(await receiveAll()).toEqual([]);
  });

  test('a copy left by a short poll is at the front of the queue, as one left by a long poll', async () => {
    for (let run = 0; run < 10; run++) {
      const queue = await copying.createQueue(`copies-short-${run}`);
      await copying.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: Array.from({ length: 10 }, (_, index) => ({ Id: `m${index}`, MessageBody: `m${index}`, MessageGroupId: 'tenant' })),
        }),
      );
      let first: Message | undefined;
      while (!first) [first] = (await copying.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 1, WaitTimeSeconds: 0, VisibilityTimeout: 300 }))).Messages ?? [];
      const [next] = (await copying.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, VisibilityTimeout: 300 }))).Messages ?? [];
      expect(next?.MessageId).toBe(first.MessageId);
    }
  });

  test('FIFO queues keep exactly-once processing', async () => {
    const queue = await copying.createQueue('copies.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    await copying.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'once', MessageGroupId: 'g' }));
    const { Messages = [] } = await copying.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10 }));
    await copying.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: [{ Id: 'a', ReceiptHandle: Messages[0]!.ReceiptHandle! }] }));
    const again = await copying.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10 }));
    expect(again.Messages ?? []).toEqual([]);
  });
});
