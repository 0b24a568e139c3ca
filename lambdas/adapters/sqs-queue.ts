import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { sqsClient } from './aws-clients';

/** SQS caps a batch request at 256 KiB and 10 entries. */
const MAX_BATCH_BYTES = 256 * 1024;
const MAX_BATCH_ENTRIES = 10;

/** A body that was not sent, by its index in the caller's list, and why. */
export interface Unsent {
  index: number;
  reason: string;
}

/** Sends message bodies in as few SendMessageBatch calls as the limits allow; throws if any entry fails. */
export async function sendMessages(queueUrl: string, bodies: string[], client = sqsClient): Promise<void> {
  const unsent = await trySendMessages(queueUrl, bodies, client);
  if (unsent.length > 0) {
    throw new Error(`SQS did not take ${unsent.length} of ${bodies.length} message(s): ${describeUnsent(unsent)}`);
  }
}

/**
 * Sends message bodies in as few SendMessageBatch calls as the limits allow, in parallel, and
 * returns the bodies that were not sent (refused entries, failed calls) in index order, so a
 * caller sending for several owners can fail just the owners concerned.
 */
export async function trySendMessages(queueUrl: string, bodies: string[], client = sqsClient): Promise<Unsent[]> {
  const unsent: Unsent[] = [];
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
        for (const failure of result.Failed ?? []) {
          unsent.push({ index: Number(failure.Id), reason: `${failure.Code ?? 'refused'}: ${failure.Message ?? ''}`.trim() });
        }
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        unsent.push(...batch.map((_, index) => ({ index: first + index, reason })));
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
