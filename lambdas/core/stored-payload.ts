/**
 * An event's payload stored once (docs/design.md §3.18): the fan-out writes it with the event,
 * and the attempts of the event's deliveries refer to it instead of each keeping a copy. An
 * attempt refers to it only while the stored payload is sure to outlive the attempt's log: the
 * event item expires `attemptLogTtlDays + referenceDays` after publishing, an attempt's log
 * `attemptLogTtlDays` after the attempt, so an attempt made more than `referenceDays` after
 * publishing (a redrive from the DLQ, a late recover) keeps its payload itself.
 */
import { DELIVERY, TABLE_KEYS } from './settings';

/** The table item of an event's stored payload. */
export const storedPayloadKey = (projectId: string, eventId: string): Record<string, string> => ({
  [TABLE_KEYS.partitionKey]: `EVENT#${projectId}#${eventId}`,
  [TABLE_KEYS.sortKey]: 'payload',
});

/** Epoch seconds at which an event's stored payload expires, or undefined when `publishedAt` is not a time. */
export function storedPayloadExpiry(publishedAt: string, attemptLogTtlDays: number): number | undefined {
  const published = Date.parse(publishedAt);
  if (!Number.isFinite(published)) return undefined;
  return Math.floor(published / 1000) + (attemptLogTtlDays + DELIVERY.storedPayloadReferenceDays) * 86_400;
}

/** Whether an attempt made at `attemptedAt` may refer to its event's stored payload. */
export function mayReferToStoredPayload(message: { payloadStored?: boolean; publishedAt: string }, attemptedAt: Date): boolean {
  if (message.payloadStored !== true) return false;
  const published = Date.parse(message.publishedAt);
  return Number.isFinite(published) && attemptedAt.getTime() - published <= DELIVERY.storedPayloadReferenceDays * 86_400_000;
}
