import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { SQS_BATCH, chunkBySize } from '../core/batching';
import type { ReceivedMessage } from '../core/delivery-batch';
import { isAwsBusy, sqsRefusal } from '../core/errors';
import { sqsClient } from './aws-clients';

const MAX_BATCH_ENTRIES = SQS_BATCH.maxEntries;

/** A body that was not sent, by its index in the caller's list, and why. */
export interface Unsent {
  index: number;
  reason: string;
  /** SQS was busy or failed on its side (throttled, 5xx, unreachable): sending it again may work. */
  busy?: boolean;
}

/** A message to send: its body, how long SQS keeps it hidden first, and its tenant. */
export interface OutgoingMessage {
  body: string;
  /** 0–900 seconds. */
  delaySeconds?: number;
  /**
   * The tenant, as SQS fair queues read it (`MessageGroupId` on a standard queue): when one
   * tenant holds a disproportionate share of the messages in flight, SQS serves the others first.
   */
  groupId?: string;
}

/** Sends messages in as few SendMessageBatch calls as the limits allow; throws if any entry fails. */
export async function sendMessages(queueUrl: string, messages: (string | OutgoingMessage)[], client = sqsClient): Promise<void> {
  const unsent = await trySendMessages(queueUrl, messages, client);
  if (unsent.length > 0) {
    const message = `SQS did not take ${unsent.length} of ${messages.length} message(s): ${describeUnsent(unsent)}`;
    throw sqsRefusal(message, unsent);
  }
}

/**
 * Sends messages in as few SendMessageBatch calls as the limits allow, in parallel, and
 * returns those that were not sent (refused entries, failed calls) in index order, so a
 * caller sending for several owners can fail just the owners concerned.
 */
export async function trySendMessages(
  queueUrl: string,
  messages: (string | OutgoingMessage)[],
  client = sqsClient,
): Promise<Unsent[]> {
  const unsent: Unsent[] = [];
  let offset = 0;
  const outgoing = messages.map((message) => (typeof message === 'string' ? { body: message } : message));
  await Promise.all(
    chunkBySize(outgoing, (message) => Buffer.byteLength(message.body)).map(async (batch) => {
      const first = offset;
      offset += batch.length;
      try {
        const result = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((message, index) => ({
              Id: String(first + index),
              MessageBody: message.body,
              DelaySeconds: message.delaySeconds || undefined,
              MessageGroupId: message.groupId,
            })),
          }),
        );
        for (const failure of result.Failed ?? []) {
          // SenderFault false: SQS's side failed this entry, not what was sent.
          unsent.push({ index: Number(failure.Id), reason: `${failure.Code ?? 'refused'}: ${failure.Message ?? ''}`.trim(), busy: failure.SenderFault === false });
        }
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        unsent.push(...batch.map((_, index) => ({ index: first + index, reason, busy: isAwsBusy(error) })));
      }
    }),
  );
  return unsent.sort((a, b) => a.index - b.index);
}

/** The distinct reasons, each with how many bodies it concerns: short enough for one log line. */
export function describeUnsent(unsent: Unsent[]): string {
  const counts = new Map<string, number>();
  for (const { reason } of unsent) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => (count > 1 ? `${reason} (×${count})` : reason)).join('; ');
}

/** A received message to be hidden for a while before it is retried. */
export interface VisibilityChange {
  receiptHandle: string;
  visibilitySeconds: number;
}

/** Changes the visibility of received messages, ten per call. */
export async function changeVisibility(queueUrl: string, changes: VisibilityChange[], client = sqsClient): Promise<void> {
  for (let start = 0; start < changes.length; start += MAX_BATCH_ENTRIES) {
    const result = await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: changes.slice(start, start + MAX_BATCH_ENTRIES).map((change, index) => ({
          Id: String(index),
          ReceiptHandle: change.receiptHandle,
          VisibilityTimeout: change.visibilitySeconds,
        })),
      }),
    );
    if (result.Failed && result.Failed.length > 0) {
      const reasons = result.Failed.map((failure) => `${failure.Code}: ${failure.Message}`).join('; ');
      throw new Error(`could not reschedule ${result.Failed.length} message(s): ${reasons}`);
    }
  }
}

/**
 * Up to ten of the queue's visible messages, without waiting for more: a short poll
 * (`WaitTimeSeconds` 0, whatever the queue's default), hidden for the queue's visibility timeout.
 */
export async function receiveVisible(queueUrl: string, client = sqsClient): Promise<ReceivedMessage[]> {
  const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: MAX_BATCH_ENTRIES, WaitTimeSeconds: 0 }));
  return (Messages ?? []).flatMap(({ MessageId, ReceiptHandle, Body }) =>
    MessageId && ReceiptHandle && Body !== undefined ? [{ messageId: MessageId, receiptHandle: ReceiptHandle, body: Body }] : [],
  );
}

/** Deletes received messages, ten per call; throws if SQS kept any (they return after their visibility timeout). */
export async function deleteMessages(queueUrl: string, receiptHandles: string[], client = sqsClient): Promise<void> {
  for (let start = 0; start < receiptHandles.length; start += MAX_BATCH_ENTRIES) {
    const result = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: receiptHandles.slice(start, start + MAX_BATCH_ENTRIES).map((receiptHandle, index) => ({ Id: String(index), ReceiptHandle: receiptHandle })),
      }),
    );
    if (result.Failed && result.Failed.length > 0) {
      throw new Error(`SQS did not delete ${result.Failed.length} message(s): ${result.Failed.map((failure) => `${failure.Code}: ${failure.Message}`).join('; ')}`);
    }
  }
}
