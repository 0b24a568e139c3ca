import * as z from 'zod';
import { DeliveryMessage, webhookIdOf } from './delivery-message';
import { OPERATOR_SELECT_EVENT, deriveTopics, isPublishedEvent, topicFamily } from './event-catalog';
import { checkClaimCheckBinding, readClaimCheck } from './claim-check';

/** An EventBridge event as the rule delivers it to the fan-out queue (DESIGN §2). */
export const eventEnvelopeSchema = z.object({
  id: z.string().min(1),
  'detail-type': z.string().min(1),
  source: z.string(),
  time: z.string(),
  detail: z.looseObject({ id_project: z.string().min(1, 'id_project must not be empty') }),
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** An event the fan-out can never process; retrying it will not help. */
export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEventError';
  }
}

/**
 * Reads and validates a fan-out queue message body. A detail carrying a claim check is taken
 * only when the claim check names `claimCheckBucket` and a key of the event's own project:
 * anything else is a pointer published to reach another project's payloads, malformed here.
 */
export function parseEnvelope(body: string, claimCheckBucket?: string): EventEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new MalformedEventError('message body is not JSON');
  }
  const parsed = eventEnvelopeSchema.safeParse(raw);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'event'}: ${issue.message}`);
    throw new MalformedEventError(`not a Tiledesk event: ${reasons.join('; ')}`);
  }
  if (parsed.data['detail-type'] === OPERATOR_SELECT_EVENT) {
    throw new MalformedEventError('operator.select is synchronous and is never published to the bus');
  }
  // The payload is delivered as published: the parsed detail would list `id_project` first,
  // so the raw object (same keys, original order) is kept.
  const detail = (raw as { detail: EventEnvelope['detail'] }).detail;
  try {
    const claimCheck = readClaimCheck(detail);
    if (claimCheck) checkClaimCheckBinding(claimCheck, detail.id_project, claimCheckBucket);
  } catch (error) {
    // A malformed or foreign claim check: retrying will not make it readable.
    throw new MalformedEventError((error as Error).message);
  }
  return { ...parsed.data, detail };
}

/** Finds the ids of a project's subscriptions to a topic. */
export type SubscriberLookup = (projectId: string, topic: string) => Promise<string[]>;

/** Finds the ids of a project's subscriptions to each topic of a family (`topicFamily`), by topic. */
export type FamilyLookup = (projectId: string, family: string) => Promise<ReadonlyMap<string, readonly string[]>>;

/**
 * A per-topic lookup that reads each (project, family) once and shares it: a batch of
 * `message.create` events whose refinements (channels) differ costs one query per project, not
 * one per topic. Meant to live for one invocation only, so a subscription change shows from the
 * next batch on.
 */
export function lookupByFamily(lookup: FamilyLookup): SubscriberLookup {
  const answers = new Map<string, Promise<ReadonlyMap<string, readonly string[]>>>();
  return async (projectId, topic) => {
    const family = topicFamily(topic);
    const key = JSON.stringify([projectId, family]);
    let answer = answers.get(key);
    if (!answer) {
      answer = lookup(projectId, family);
      answers.set(key, answer);
    }
    return [...((await answer).get(topic) ?? [])];
  };
}

/**
 * One delivery message per (event, subscription): the event's topics (base name plus the
 * refinement its payload selects) are looked up in the project only, never scanned.
 */
export async function planDeliveries(envelope: EventEnvelope, findSubscribers: SubscriberLookup): Promise<DeliveryMessage[]> {
  // No subscription can name an event outside the catalog (the API refuses it): none to look up.
  if (!isPublishedEvent(envelope['detail-type'])) return [];
  const projectId = envelope.detail.id_project;
  const topics = deriveTopics(envelope['detail-type'], envelope.detail);
  const perTopic = await Promise.all(topics.map(async (topic) => ({ topic, ids: await findSubscribers(projectId, topic) })));
  return perTopic.flatMap(({ topic, ids }) =>
    ids.map((subscriptionId) => ({
      webhookId: webhookIdOf(envelope.id, subscriptionId),
      eventId: envelope.id,
      event: topic,
      projectId,
      subscriptionId,
      publishedAt: envelope.time,
      payload: envelope.detail,
    })),
  );
}
