import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { sqsClient } from './aws-clients';

/** SQS caps a batch request at 256 KiB and 10 entries. */
const MAX_BATCH_BYTES = 256 * 1024;
const MAX_BATCH_ENTRIES = 10;

/** Sends message bodies in as few SendMessageBatch calls as the limits allow; throws if any entry fails. */
export async function sendMessages(queueUrl: string, bodies: string[], client = sqsClient): Promise<void> {
  const unsent = await trySendMessages(queueUrl, bodies, client);
  if (unsent.length > 0) throw new Error(`SQS did not take ${unsent.length} of ${bodies.length} message(s)`);
}

/**
 * Sends message bodies in as few SendMessageBatch calls as the limits allow, in parallel, and
 * returns the indexes of the bodies that were not sent (refused entries, failed calls), so a
 * caller sending for several owners can fail just the owners concerned.
 */
export async function trySendMessages(queueUrl: string, bodies: string[], client = sqsClient): Promise<number[]> {
  const unsent: number[] = [];
  let offset = 0;
  await Promise.all(
    chunkBySize(bodies).map(async (batch) => {
      const first = offset;
      offset += batch.length;
      try {
        const result = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((body, index) => ({ Id: String(first + index), MessageBody: body })),
          }),
        );
        for (const failure of result.Failed ?? []) unsent.push(Number(failure.Id));
      } catch {
        unsent.push(...batch.map((_, index) => first + index));
      }
    }),
  );
  return unsent.sort((a, b) => a - b);
}

function chunkBySize(bodies: string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const body of bodies) {
    const bytes = Buffer.byteLength(body);
    if (current.length === MAX_BATCH_ENTRIES || (current.length > 0 && size + bytes > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(body);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
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
