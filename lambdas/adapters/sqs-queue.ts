import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { sqsClient } from './aws-clients';

/** SQS caps a batch request at 256 KiB and 10 entries. */
const MAX_BATCH_BYTES = 256 * 1024;
const MAX_BATCH_ENTRIES = 10;

/** Sends message bodies in as few SendMessageBatch calls as the limits allow; throws if any entry fails. */
export async function sendMessages(queueUrl: string, bodies: string[], client = sqsClient): Promise<void> {
  for (const batch of chunkBySize(bodies)) {
    const result = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
    if (result.Failed && result.Failed.length > 0) {
      const reasons = result.Failed.map((failure) => `${failure.Code}: ${failure.Message}`).join('; ');
      throw new Error(`SQS refused ${result.Failed.length} message(s): ${reasons}`);
    }
  }
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
