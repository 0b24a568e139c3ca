import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { DELIVERY_PACK, DeliveryMessage, packBody } from '../core/delivery-message';
import { chunkBySize } from '../core/batching';
import { groupBy } from '../core/group-by';
import { MalformedEventError, SubscriberLookup, lookupByFamily, parseEnvelope, planDeliveries } from '../core/fan-out';
import { DELIVERY } from '../core/settings';
import { isPublishedEvent } from '../core/event-catalog';
import { idSchema } from '../core/subscription';
import { stringifyJson } from '../core/json-text';
import { readConfig } from '../adapters/config';
import { EventPayloadStore, StoredEvent, storedEventKey } from '../adapters/event-payload-store';
import { instrument, logger, metrics } from '../adapters/observability';
import { OutgoingMessage, Unsent, changeVisibility, describeUnsent, trySendMessages } from '../adapters/sqs-queue';
import { SubscriptionStore } from '../adapters/subscription-store';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    DELIVERY_QUEUE_URL: z.string().min(1),
    FAN_OUT_QUEUE_URL: z.string().min(1),
    /** The only bucket a published claim check may name; without it every claim check is malformed. */
    CLAIM_CHECK_BUCKET: z.string().optional(),
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
  }),
);

const store = new SubscriptionStore(config.TABLE_NAME);
const eventPayloads = new EventPayloadStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);

/** The seams the fan-out uses, replaceable in tests (e.g. to inject a failure mid-batch). */
export const fanOutDeps = {
  /** A project's subscribers to a family of topics (an event and its refinements), by topic. */
  findSubscriberFamily: (projectId: string, family: string) => store.findByTopicFamily(projectId, family),
  /** Sends delivery messages; returns those not sent, by index, with SQS's reason. */
  enqueue: (messages: OutgoingMessage[]) => trySendMessages(config.DELIVERY_QUEUE_URL, messages),
  /** Stores events' payloads once; returns the keys of those stored (never throws). */
  storePayloads: (events: StoredEvent[]) => eventPayloads.put(events),
};

/** A planned delivery: its event's record, and the message. */
interface Planned {
  messageId: string;
  delivery: DeliveryMessage;
}

/** Plans one event's delivery messages, one per subscriber, into `planned`. */
async function planRecord(
  record: SQSRecord,
  malformed: Set<string>,
  findSubscribers: SubscriberLookup,
  planned: Planned[],
): Promise<void> {
  let envelope;
  try {
    envelope = parseEnvelope(record.body, config.CLAIM_CHECK_BUCKET);
  } catch (error) {
    if (error instanceof MalformedEventError) {
      malformed.add(record.messageId);
      logger.error('malformed event, sending it towards the fan-out DLQ', { messageId: record.messageId, reason: error.message });
      metrics.addMetric('MalformedEvent', 'Count', 1);
    }
    throw error;
  }
  if (!isPublishedEvent(envelope['detail-type'])) {
    // Published fine, delivered to no one: a mistyped DetailType would otherwise vanish unseen.
    logger.warn('event type not in the catalog: no subscription can name it, so it reaches no one', {
      eventId: envelope.id,
      event: envelope['detail-type'],
      projectId: envelope.detail.id_project,
    });
    metrics.addMetric('UnknownEventType', 'Count', 1);
  }
  if (!idSchema.safeParse(envelope.detail.id_project).success) {
    // The rule reads nothing of the event, so any id_project arrives here; the API gives none of
    // this form a subscription (ids are idSchema's), so it reaches no one: said, not looked up.
    logger.warn('id_project is no project id the API can have: no subscription can match it, so the event reaches no one', {
      eventId: envelope.id,
      event: envelope['detail-type'],
      projectId: envelope.detail.id_project.slice(0, 200),
    });
    metrics.addMetric('UnknownProject', 'Count', 1);
    return;
  }
  const deliveries = await planDeliveries(envelope, findSubscribers);
  for (const delivery of deliveries) planned.push({ messageId: record.messageId, delivery });
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
 * Subscribers are looked up once per (project, topic family) of the batch, and the batch's
 * delivery messages are sent together.
 */
export async function fanOut(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const malformed = new Set<string>();
  const findSubscribers = lookupByFamily(fanOutDeps.findSubscriberFamily);
  const planned: Planned[] = [];
  const processor = new BatchProcessor(EventType.SQS);
  const response = await processPartialResponse(
    event,
    (record: SQSRecord) => planRecord(record, malformed, findSubscribers, planned),
    processor,
    { context, throwOnFullBatchFailure: false },
  );
  const failedIds = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  // The whole batch's messages go out together, ten per request. An event any of whose
  // messages was not sent is retried whole; those that were sent then go again under the same
  // webhook-id (at-least-once).
  const sendable = planned.filter((entry) => !failedIds.has(entry.messageId));
  const packs = sendable.length > 0 ? await packed(sendable) : [];
  const unsent: Unsent[] = packs.length > 0 ? await fanOutDeps.enqueue(packs.map((pack) => pack.message)) : [];
  for (const { index } of unsent) for (const messageId of packs[index]!.messageIds) failedIds.add(messageId);
  if (unsent.length > 0) {
    logger.warn('SQS did not take some delivery messages; their events will retry', {
      unsent: unsent.length,
      of: packs.length,
      reasons: describeUnsent(unsent),
    });
    metrics.addMetric('DeliveryMessagesUnsent', 'Count', unsent.length);
  }
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
  return { batchItemFailures: event.Records.filter((record) => failedIds.has(record.messageId)).map((record) => ({ itemIdentifier: record.messageId })) };
}

/** A delivery message to send: one delivery or a pack, and the events whose deliveries it carries. */
interface Pack {
  message: OutgoingMessage;
  messageIds: string[];
}

/**
 * The delivery messages of a batch. The payload of each event with two or more deliveries is
 * stored once first (one write for the batch) so their attempts refer to it (docs/design.md
 * §3.18); an event with one delivery is cheaper logged with its payload, as one item. A
 * subscription's deliveries of the batch go in packs of up to ten (§3.20): one SQS message
 * each, so a busy subscriber costs one send, receive and delete per pack; a lone delivery goes
 * as itself. The project is the tenant of the fair delivery queue; bodies are written without
 * recursion, so no nesting a client can publish makes this throw.
 */
async function packed(planned: Planned[]): Promise<Pack[]> {
  const deliveries = planned.map((entry) => entry.delivery);
  const keys = deliveries.map(storedEventKey);
  const perEvent = new Map<string, number>();
  for (const key of keys) perEvent.set(key, (perEvent.get(key) ?? 0) + 1);
  const shared = deliveries.filter((_, index) => perEvent.get(keys[index]!)! >= 2);
  const stored = shared.length > 0 ? await fanOutDeps.storePayloads(shared) : new Set<string>();
  const bodies = deliveries.map((delivery, index) => stringifyJson(stored.has(keys[index]!) ? { ...delivery, payloadStored: true } : delivery));
  const bySubscription = groupBy(
    deliveries.map((_, index) => index),
    (index) => JSON.stringify([deliveries[index]!.projectId, deliveries[index]!.subscriptionId]),
  );
  return [...bySubscription.values()].flatMap((indices) =>
    chunkBySize(indices, (index) => Buffer.byteLength(bodies[index]!), DELIVERY_PACK).map((pack) => ({
      message: {
        body: pack.length === 1 ? bodies[pack[0]!]! : packBody(pack.map((index) => bodies[index]!)),
        groupId: deliveries[pack[0]!]!.projectId,
      },
      messageIds: pack.map((index) => planned[index]!.messageId),
    })),
  );
}

export const handler = instrument(fanOut);
