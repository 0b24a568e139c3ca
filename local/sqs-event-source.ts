import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { localLambdaContext } from './lambda-context';

/** A Lambda handler as the local runtime invokes it. */
export type SqsHandler = (event: SQSEvent, context: Context, ...rest: never[]) => unknown;

/** Props of {@link startSqsEventSource}: the same knobs as a Lambda SQS event source mapping. */
export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: SqsHandler;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Pollers running at once, i.e. the function's concurrency. */
  concurrency: number;
  functionTimeoutSeconds: number;
  region: string;
  /** Called when an invocation throws (the whole batch then returns to the queue). */
  onError?: (error: unknown) => void;
  /**
   * The tenant of a message body, for SQS fair queues: when set, batches are shared out among
   * tenants (fewest messages in flight first) instead of taken in queue order.
   */
  tenantOf?: (body: string) => string;
  /** Messages received ahead of the pollers, so a fair batch can choose among tenants. @default 10000 */
  prefetch?: number;
  /** The queue's visibility timeout: a message buffered for half of it is let go, not handled late. */
  visibilityTimeoutSeconds?: number;
}

export interface SqsEventSource {
  stop(): Promise<void>;
}

/**
 * Runs a Lambda SQS event source in-process: long-polls the queue, fills a batch within the
 * batching window, invokes the handler, deletes the records it did not report as failed (all
 * of them stay when it throws). Failed records reappear when their visibility ends, and SQS's
 * own redrive policy moves them to the DLQ, exactly as on AWS.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  let running = true;
  const abort = new AbortController();
  const source = options.tenantOf ? fairReceiver(options, () => running, abort.signal) : undefined;
  const pollers = Array.from({ length: options.concurrency }, () => poll());

  async function poll(): Promise<void> {
    while (running) {
      try {
        const messages = source ? await source.take(options.batchSize) : await receiveBatch();
        if (messages.length > 0) {
          try {
            await invoke(messages);
          } finally {
            source?.done(messages);
          }
        }
      } catch (error) {
        if (!running) return;
        options.onError?.(error);
        await sleep(200);
      }
    }
  }

  async function receiveBatch(): Promise<Message[]> {
    const messages = await receiveMessages(options, options.batchSize, 1, abort.signal);
    const windowEnds = Date.now() + options.maxBatchingWindowSeconds * 1000;
    while (running && messages.length > 0 && messages.length < options.batchSize && Date.now() < windowEnds) {
      const more = await receiveMessages(options, options.batchSize - messages.length, 0, abort.signal);
      if (more.length === 0) await sleep(Math.min(50, Math.max(0, windowEnds - Date.now())));
      messages.push(...more);
    }
    return messages;
  }

  async function invoke(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, options)) };
    let failedIds: Set<string>;
    try {
      const context = localLambdaContext(options.functionName, options.functionTimeoutSeconds);
      const response = (await options.handler(event, context)) as SQSBatchResponse | undefined;
      failedIds = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch (error) {
      options.onError?.(error);
      return;
    }
    const done = messages.filter((message) => !failedIds.has(message.MessageId ?? ''));
    if (done.length === 0) return;
    await options.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
      }),
    );
  }

  return {
    async stop() {
      running = false;
      abort.abort();
      await Promise.allSettled([...pollers, source?.stopped]);
    },
  };
}

async function receiveMessages(options: SqsEventSourceOptions, max: number, waitSeconds: number, signal: AbortSignal): Promise<Message[]> {
  const { Messages } = await options.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: Math.min(10, max),
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    { abortSignal: signal },
  );
  return Messages ?? [];
}

/**
 * What SQS fair queues do, for an emulator that does not: messages are received ahead into a
 * buffer, and each batch takes them tenant by tenant, the tenant with the fewest messages in
 * flight first, so one tenant's burst cannot hold another's lone message behind it. Buffered
 * messages are in flight, as they would be in a poller's hands, and kept hidden until handled.
 */
/** Concurrent receive loops that fill a fair event source's buffer. */
const RECEIVERS = 4;

function fairReceiver(options: SqsEventSourceOptions, isRunning: () => boolean, signal: AbortSignal) {
  const tenantOf = options.tenantOf!;
  const limit = options.prefetch ?? 10_000;
  const buffer: { message: Message; tenant: string; receivedAt: number }[] = [];
  const inFlight = new Map<string, number>();
  const tenants = new Map<string, string>();
  /** Message ids in the buffer. */
  const buffered = new Set<string>();
  const waiting: (() => void)[] = [];
  const arrived = () => {
    for (const wake of waiting.splice(0)) wake();
  };
  const visibilityMs = (options.visibilityTimeoutSeconds ?? options.functionTimeoutSeconds * 6) * 1000;
  /**
   * A buffered message is in a poller's hands as far as SQS knows: one buffered for half its
   * visibility timeout gets the full timeout again, so it never reappears (which would count a
   * receive towards the poison limit without it ever being handled).
   */
  const keepHidden = async (): Promise<void> => {
    const now = Date.now();
    const ageing = buffer.filter((entry) => now - entry.receivedAt > visibilityMs / 2);
    for (let start = 0; start < ageing.length; start += 10) {
      const slice = ageing.slice(start, start + 10);
      await options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: slice.map((entry, index) => ({
            Id: String(index),
            ReceiptHandle: entry.message.ReceiptHandle,
            VisibilityTimeout: Math.round(visibilityMs / 1000),
          })),
        }),
      );
      for (const entry of slice) entry.receivedAt = now;
    }
  };
  // Several receivers, each long-polling: a backlog drains into the buffer quickly, and an
  // empty queue costs one waiting request each, not a busy loop.
  const receiveLoop = async (): Promise<void> => {
    while (isRunning()) {
      if (buffer.length >= limit) {
        await sleep(10);
        continue;
      }
      try {
        const messages = await receiveMessages(options, 10, 1, signal);
        const now = Date.now();
        for (const message of messages) {
          // A message let go (or buffered past its visibility) and received again: keep the newest receipt.
          if (buffered.has(message.MessageId ?? '')) {
            buffer.splice(buffer.findIndex((entry) => entry.message.MessageId === message.MessageId), 1);
          }
          if (tenants.has(message.MessageId ?? '')) continue;
          buffer.push({ message, tenant: tenantOf(message.Body ?? ''), receivedAt: now });
          buffered.add(message.MessageId ?? '');
        }
        if (messages.length > 0) arrived();
      } catch (error) {
        if (!isRunning()) return;
        options.onError?.(error);
        await sleep(200);
      }
    }
  };
  const keeper = setInterval(() => {
    keepHidden().catch((error: unknown) => options.onError?.(error));
  }, Math.max(100, visibilityMs / 8));
  const feeder = Promise.all(Array.from({ length: RECEIVERS }, receiveLoop)).finally(() => clearInterval(keeper));

  return {
    stopped: feeder,
    async take(max: number): Promise<Message[]> {
      while (isRunning() && buffer.length === 0) {
        await Promise.race([new Promise<void>((resolve) => waiting.push(resolve)), sleep(250)]);
      }
      const batch: Message[] = [];
      const taken = new Map<string, number>();
      while (batch.length < max && buffer.length > 0) {
        // The buffered tenant with the fewest messages in flight (counting this batch) goes next.
        let best = -1;
        let bestLoad = Infinity;
        const seen = new Set<string>();
        for (const [index, entry] of buffer.entries()) {
          if (seen.has(entry.tenant)) continue;
          seen.add(entry.tenant);
          const load = (inFlight.get(entry.tenant) ?? 0) + (taken.get(entry.tenant) ?? 0);
          if (load < bestLoad) {
            best = index;
            bestLoad = load;
          }
        }
        const [entry] = buffer.splice(best, 1);
        buffered.delete(entry!.message.MessageId ?? '');
        batch.push(entry!.message);
        taken.set(entry!.tenant, (taken.get(entry!.tenant) ?? 0) + 1);
        tenants.set(entry!.message.MessageId ?? '', entry!.tenant);
      }
      for (const [tenant, count] of taken) inFlight.set(tenant, (inFlight.get(tenant) ?? 0) + count);
      return batch;
    },
    done(messages: Message[]): void {
      for (const message of messages) {
        const tenant = tenants.get(message.MessageId ?? '');
        tenants.delete(message.MessageId ?? '');
        if (tenant === undefined) continue;
        const left = (inFlight.get(tenant) ?? 1) - 1;
        if (left > 0) inFlight.set(tenant, left);
        else inFlight.delete(tenant);
      }
    },
  };
}

function toRecord(message: Message, options: SqsEventSourceOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { dataType: value.DataType ?? 'String', stringValue: value.StringValue },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
