import { DeleteMessageBatchCommand, GetQueueAttributesCommand, Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { localLambdaContext } from './lambda-context';
import { LambdaConcurrency, LocalLambdaLimits, localLambdaLimits } from './lambda-concurrency';
import type { AwsSideSqs } from './runtime/aws-side-sqs';

/** A Lambda handler as the local runtime invokes it. */
export type SqsHandler = (event: SQSEvent, context: Context, ...rest: never[]) => unknown;

/** Props of {@link startSqsEventSource}: the settings of a Lambda SQS event source mapping and its function. */
export interface SqsEventSourceOptions {
  /** Lambda's side of SQS (`awsSideSqs` in the stack; an SDK client does as well). */
  sqs: AwsSideSqs;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: SqsHandler;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** `ScalingConfig.MaximumConcurrency` (2–1000). @default the event source's own ceiling */
  maximumConcurrency?: number;
  /** `FunctionResponseTypes: [ReportBatchItemFailures]`: without it a batch response is ignored. */
  reportBatchItemFailures: boolean;
  functionTimeoutSeconds: number;
  /** The queue's visibility timeout: Lambda refuses a mapping whose function may run longer. */
  visibilityTimeoutSeconds: number;
  /** The account's executions, shared with the other functions. @default a pool of this source's own */
  concurrency?: LambdaConcurrency;
  /** The scaling numbers in force. @default {@link localLambdaLimits}() */
  limits?: LocalLambdaLimits;
  region: string;
  /** Called when an invocation fails: it threw, timed out, or answered with an invalid batch response. */
  onError?: (error: unknown) => void;
  /** Called when a batch is let go because the function stayed throttled (its messages return later). */
  onThrottle?: (error: LambdaThrottledError) => void;
  /** Told of every invocation once it ends (for the benches' stage traces). */
  onInvocation?: (invocation: InvocationTrace) => void;
}

/** One invocation of a function by an event source, with its clock (epoch ms). */
export interface InvocationTrace {
  functionName: string;
  /** The first receive of the batch. */
  receivedAt: number;
  /** The handler was called: the function's concurrency allowed it. */
  startedAt: number;
  /** The handler's answer (or failure) came back. */
  endedAt: number;
  records: readonly SQSRecord[];
}

export interface SqsEventSource {
  stop(): Promise<void>;
}

/** Why a batch was not handed to the function. */
export class LambdaThrottledError extends Error {
  override readonly name = 'TooManyRequestsException';
}

/** A batch whose invocation ran past the function's timeout. */
export class LambdaTimeoutError extends Error {
  override readonly name = 'Sandbox.Timedout';
}

/** How often the event source revises its number of concurrent batches. */
const SCALING_TICK_MS = 1000;
/** Long poll of each receive: short, so that stopping never leaves a receive to take messages after. */
const RECEIVE_WAIT_SECONDS = 1;
/** Lambda's invocation payload limit, which also ends a batch. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** First wait before a throttled invocation is tried again; doubled each time up to the maximum. */
const THROTTLE_RETRY_MS = 100;
const THROTTLE_RETRY_MAX_MS = 2000;

/**
 * Runs a Lambda SQS event source in-process as AWS documents it: it starts with five concurrent
 * batches, adds up to 300 a minute while messages remain, stays under `maximumConcurrency` and
 * the event source's ceiling, and falls back to five when the queue is empty. Each batch is
 * received (within the batching window), handed to the function if the function's concurrency
 * allows it (a throttled batch is tried again until its visibility timeout is nearly over, then
 * left to reappear with its receive count raised), and the records the function did not report
 * as failed are deleted. An invocation that throws, times out or reports an unknown failure id
 * deletes nothing. Throttles, and function errors without ReportBatchItemFailures, halve the
 * concurrent batches. SQS's redrive policy moves messages received too often to the DLQ.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  if (options.functionTimeoutSeconds > options.visibilityTimeoutSeconds) {
    throw new Error(
      `${options.functionName}: Lambda refuses an SQS event source whose queue visibility timeout ` +
        `(${options.visibilityTimeoutSeconds} s) is shorter than the function timeout (${options.functionTimeoutSeconds} s)`,
    );
  }
  if (options.maximumConcurrency !== undefined && !(options.maximumConcurrency >= 2 && options.maximumConcurrency <= 1000)) {
    throw new Error(`${options.functionName}: an SQS event source's MaximumConcurrency is 2–1000; got ${options.maximumConcurrency}`);
  }
  const limits = options.limits ?? localLambdaLimits();
  const ceiling = Math.min(options.maximumConcurrency ?? limits.maxBatches, limits.maxBatches);
  const floor = Math.min(limits.initialBatches, ceiling);
  const concurrency = options.concurrency ?? new LambdaConcurrency(limits);
  let running = true;
  const abort = new AbortController();
  let target = floor;
  const pollers = new Set<Promise<void>>();
  /** Pollers still taking batches; one that leaves after a scale-down stops counting at once. */
  let active = 0;
  /** Pollers whose batch is with the function (invoked, or waiting for an execution). */
  let invoking = 0;
  /** A backlog question to the queue is on its way (one at a time). */
  let asking = false;
  /** What happened since the last scaling tick. */
  let seen = { messages: 0, fullReceives: 0, emptyReceives: 0, throttles: 0, functionErrors: 0 };

  const step = (limits.scaleUpBatchesPerMinute * SCALING_TICK_MS) / 60_000;
  const scale = (): void => {
    const { messages, fullReceives, emptyReceives, throttles, functionErrors } = seen;
    seen = { messages: 0, fullReceives: 0, emptyReceives: 0, throttles: 0, functionErrors: 0 };
    if (throttles > 0 || functionErrors > 0) target = Math.max(1, Math.floor(target / 2));
    else if (fullReceives > 0 && emptyReceives === 0) {
      // Messages remain: a receive got all it asked for, and none found the queue empty.
      target = Math.min(ceiling, target + step);
    } else if (emptyReceives === 0 && active > 0 && invoking >= active) {
      // Every poller is busy with a batch, so no receive can tell whether messages remain: the
      // queue's backlog says (AWS: "If messages are still available, Lambda increases the
      // number of processes that are reading batches"). Long batches then do not hold a
      // source at five while messages wait, nor scale it down.
      if (target < ceiling) askBacklog();
    } else if (messages === 0) target = Math.min(target, floor);
    fill();
  };
  /** Adds a step of batches if the queue has messages waiting (GetQueueAttributes, the function's role). */
  const askBacklog = (): void => {
    if (asking) return;
    asking = true;
    options.sqs
      .send(new GetQueueAttributesCommand({ QueueUrl: options.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }), { abortSignal: abort.signal })
      .then(({ Attributes }) => {
        if (!running || !(Number(Attributes?.ApproximateNumberOfMessages) > 0)) return;
        target = Math.min(ceiling, target + step);
        fill();
      })
      .catch((error: unknown) => {
        if (running) options.onError?.(error);
      })
      .finally(() => {
        asking = false;
      });
  };
  const fill = (): void => {
    while (running && active < Math.floor(target)) {
      active++;
      const poller: Promise<void> = poll().finally(() => {
        pollers.delete(poller);
      });
      pollers.add(poller);
    }
  };
  const ticker = setInterval(scale, SCALING_TICK_MS);
  fill();

  async function poll(): Promise<void> {
    while (running) {
      // A poller leaves when the event source has scaled down below the pollers running.
      if (active > Math.floor(target)) break;
      try {
        const batch = await receiveBatch();
        if (batch.messages.length === 0) {
          seen.emptyReceives++;
          continue;
        }
        seen.messages += batch.messages.length;
        if (batch.full) seen.fullReceives++;
        invoking++;
        try {
          await invokeWhenAllowed(batch);
        } finally {
          invoking--;
        }
      } catch (error) {
        if (!running) break;
        options.onError?.(error);
        await sleep(200);
      }
    }
    active--;
  }

  async function receiveBatch(): Promise<{ messages: Message[]; receivedAt: number; full: boolean }> {
    const receivedAt = Date.now();
    const messages = await receiveMessages(options, options.batchSize, RECEIVE_WAIT_SECONDS, abort.signal);
    // A receive answered with all it asked for: more may be waiting.
    const full = messages.length >= Math.min(10, options.batchSize);
    let bytes = payloadBytes(messages);
    const windowEnds = receivedAt + options.maxBatchingWindowSeconds * 1000;
    while (running && messages.length > 0 && messages.length < options.batchSize && bytes < MAX_PAYLOAD_BYTES && Date.now() < windowEnds) {
      const more = await receiveMessages(options, options.batchSize - messages.length, 0, abort.signal);
      if (more.length === 0) await sleep(Math.min(50, Math.max(0, windowEnds - Date.now())));
      messages.push(...more);
      bytes += payloadBytes(more);
    }
    return { messages, receivedAt, full };
  }

  /**
   * Hands the batch to the function once its concurrency allows. A throttled batch is kept and
   * tried again until its messages are about to reappear; then it is let go, and SQS shows the
   * messages again after their visibility timeout with the receive count raised, as on AWS.
   */
  async function invokeWhenAllowed(batch: { messages: Message[]; receivedAt: number }): Promise<void> {
    const visibleAgainAt = batch.receivedAt + options.visibilityTimeoutSeconds * 1000;
    let wait = THROTTLE_RETRY_MS;
    while (!concurrency.tryAcquire(options.functionName)) {
      seen.throttles++;
      if (!running || Date.now() + wait >= visibleAgainAt) {
        options.onThrottle?.(
          new LambdaThrottledError(`${options.functionName}: throttled; ${batch.messages.length} message(s) return after their visibility timeout`),
        );
        return;
      }
      await sleep(wait);
      wait = Math.min(wait * 2, THROTTLE_RETRY_MAX_MS);
    }
    try {
      await invoke(batch.messages, batch.receivedAt);
    } finally {
      concurrency.release(options.functionName);
    }
  }

  async function invoke(messages: Message[], receivedAt: number): Promise<void> {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, options)) };
    let failedIds: ReadonlySet<string>;
    const startedAt = Date.now();
    let endedAt: number | undefined;
    const traced = (): void => {
      if (endedAt !== undefined) return;
      endedAt = Date.now();
      try {
        options.onInvocation?.({ functionName: options.functionName, receivedAt, startedAt, endedAt, records: event.Records });
      } catch {
        // An observer's failure is not the invocation's.
      }
    };
    try {
      const context = localLambdaContext(options.functionName, options.functionTimeoutSeconds);
      const response = await withTimeout(Promise.resolve(options.handler(event, context)), options.functionTimeoutSeconds, options.functionName);
      traced();
      failedIds = options.reportBatchItemFailures ? failedItems(response, event) : new Set();
    } catch (error) {
      traced();
      if (!options.reportBatchItemFailures) seen.functionErrors++;
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
      clearInterval(ticker);
      abort.abort();
      while (pollers.size > 0) await Promise.allSettled([...pollers]);
    },
  };
}

/**
 * The message ids a partial batch response reports as failed. Lambda reads the whole batch as
 * failed when the response is malformed or names an id that is empty, null or not in the batch,
 * and as a success when there is no response or no failure list.
 */
export function failedItems(response: unknown, event: SQSEvent): ReadonlySet<string> {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') throw new InvalidBatchResponseError('the function returned a non-object batch response');
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw new InvalidBatchResponseError('batchItemFailures is not a list');
  const inBatch = new Set(event.Records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !inBatch.has(id)) {
      throw new InvalidBatchResponseError(`batchItemFailures names ${JSON.stringify(id ?? null)}, which is not a message of the batch`);
    }
    failed.add(id);
  }
  return failed;
}

/** A batch response Lambda cannot use: the whole batch counts as failed. */
export class InvalidBatchResponseError extends Error {
  override readonly name = 'InvalidBatchResponse';
}

/**
 * Ends an invocation at the function's timeout, as Lambda does. The handler's promise cannot be
 * stopped in-process: whatever it still does is ignored, and its messages stay in the queue.
 */
function withTimeout<T>(work: Promise<T>, timeoutSeconds: number, functionName: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LambdaTimeoutError(`${functionName}: task timed out after ${timeoutSeconds} s`)), timeoutSeconds * 1000);
  });
  work.catch(() => undefined);
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
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

function payloadBytes(messages: Message[]): number {
  return messages.reduce((sum, message) => sum + Buffer.byteLength(message.Body ?? ''), 0);
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
      ...(attributes.MessageGroupId ? { MessageGroupId: attributes.MessageGroupId } : {}),
      ...(attributes.DeadLetterQueueSourceArn ? { DeadLetterQueueSourceArn: attributes.DeadLetterQueueSourceArn } : {}),
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
