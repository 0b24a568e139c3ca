import {
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
  const pollers = Array.from({ length: options.concurrency }, () => poll());

  async function poll(): Promise<void> {
    while (running) {
      try {
        const messages = await receiveBatch();
        if (messages.length > 0) await invoke(messages);
      } catch (error) {
        if (!running) return;
        options.onError?.(error);
        await sleep(200);
      }
    }
  }

  async function receiveBatch(): Promise<Message[]> {
    const messages = await receive(options.batchSize, 1);
    const windowEnds = Date.now() + options.maxBatchingWindowSeconds * 1000;
    while (running && messages.length > 0 && messages.length < options.batchSize && Date.now() < windowEnds) {
      const more = await receive(options.batchSize - messages.length, 0);
      if (more.length === 0) await sleep(Math.min(50, Math.max(0, windowEnds - Date.now())));
      messages.push(...more);
    }
    return messages;
  }

  async function receive(max: number, waitSeconds: number): Promise<Message[]> {
    const { Messages } = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: abort.signal },
    );
    return Messages ?? [];
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
      await Promise.allSettled(pollers);
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
