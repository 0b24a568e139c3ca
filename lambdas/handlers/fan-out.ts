import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { MalformedEventError, SubscriberLookup, lookupOncePerTopic, parseEnvelope, planDeliveries } from '../core/fan-out';
import { readConfig } from '../adapters/config';
import { instrument, logger, metrics } from '../adapters/observability';
import { changeVisibility, sendMessages } from '../adapters/sqs-queue';
import { SubscriptionStore } from '../adapters/subscription-store';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    DELIVERY_QUEUE_URL: z.string().min(1),
    FAN_OUT_QUEUE_URL: z.string().min(1),
  }),
);

const store = new SubscriptionStore(config.TABLE_NAME);

/** The seams the fan-out uses, replaceable in tests (e.g. to inject a failure mid-batch). */
export const fanOutDeps = {
  findSubscribers: (projectId: string, topic: string) => store.findByTopic(projectId, topic),
  enqueue: (bodies: string[]) => sendMessages(config.DELIVERY_QUEUE_URL, bodies),
};

/** Fans one event out to its subscribers' delivery messages. */
async function fanOutRecord(record: SQSRecord, malformed: Set<string>, findSubscribers: SubscriberLookup): Promise<void> {
  let envelope;
  try {
    envelope = parseEnvelope(record.body);
  } catch (error) {
    if (error instanceof MalformedEventError) {
      malformed.add(record.messageId);
      logger.error('malformed event, sending it towards the fan-out DLQ', { messageId: record.messageId, reason: error.message });
      metrics.addMetric('MalformedEvent', 'Count', 1);
    }
    throw error;
  }
  const deliveries = await planDeliveries(envelope, findSubscribers);
  if (deliveries.length > 0) await fanOutDeps.enqueue(deliveries.map((delivery) => JSON.stringify(delivery)));
  logger.debug('event fanned out', {
    eventId: envelope.id,
    event: envelope['detail-type'],
    projectId: envelope.detail.id_project,
    deliveries: deliveries.length,
  });
  metrics.addMetric('DeliveriesPlanned', 'Count', deliveries.length);
}

/**
 * Processes a batch with partial failures. A failed record is made visible again soon — at
 * once when it is malformed, so it reaches the DLQ after maxReceiveCount quick receives rather
 * than after hours of visibility timeouts; with a short backoff when the failure may pass.
 * Subscribers are looked up once per (project, topic) of the batch.
 */
export async function fanOut(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const malformed = new Set<string>();
  const findSubscribers = lookupOncePerTopic(fanOutDeps.findSubscribers);
  const processor = new BatchProcessor(EventType.SQS);
  const response = await processPartialResponse(event, (record: SQSRecord) => fanOutRecord(record, malformed, findSubscribers), processor, {
    context,
    throwOnFullBatchFailure: false,
  });
  const failedIds = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  const changes = event.Records.filter((record) => failedIds.has(record.messageId)).map((record) => ({
    receiptHandle: record.receiptHandle,
    visibilitySeconds: malformed.has(record.messageId)
      ? 0
      : Math.min(60, 2 ** Number(record.attributes.ApproximateReceiveCount)),
  }));
  for (const record of event.Records.filter((r) => failedIds.has(r.messageId) && !malformed.has(r.messageId))) {
    logger.warn('fan-out failed, will retry', { messageId: record.messageId });
  }
  if (changes.length > 0) {
    await changeVisibility(config.FAN_OUT_QUEUE_URL, changes).catch((error: unknown) =>
      logger.warn('could not shorten visibility of failed records; they retry after the queue visibility timeout', {
        error: String(error),
      }),
    );
  }
  return response;
}

export const handler = instrument(fanOut);
