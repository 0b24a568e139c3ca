import { gunzipSync, gzipSync } from 'node:zlib';
import { DELIVERY, TABLE_KEYS } from '../core/settings';
import { stringifyJson } from '../core/json-text';
import { storedPayloadExpiry, storedPayloadKey } from '../core/stored-payload';
import { BATCH_WRITE_ITEMS, batchGetAll, batchPut, dynamoDocumentClient } from './aws-clients';
import { logger, metrics } from './observability';

const { partitionKey: PK, ttlAttribute } = TABLE_KEYS;

/** An event whose payload is stored once for all its deliveries. */
export interface StoredEvent {
  projectId: string;
  eventId: string;
  publishedAt: string;
  payload: Record<string, unknown>;
}

/** Compressed payloads above this are not stored with the event: their attempts keep them (or say why not). */
const MAX_STORED_BYTES = 390 * 1024;

/**
 * Events' payloads, stored once by the fan-out and read back by the attempt log for the
 * attempts that refer to them (lambdas/core/stored-payload.ts, docs/design.md §3.18).
 */
export class EventPayloadStore {
  constructor(
    private readonly tableName: string,
    private readonly attemptLogTtlDays: number = DELIVERY.attemptLogTtlDays,
    private readonly client = dynamoDocumentClient,
  ) {}

  /**
   * Stores each event's payload once (compressed JSON text, so nothing a client published can
   * be refused) and returns the keys (`storedEventKey`) of those stored. Storing never fails
   * the caller: an event left out (no publishing time, too large, DynamoDB failing) has its
   * payload kept by its attempts, as before.
   */
  async put(events: StoredEvent[]): Promise<Set<string>> {
    const items = new Map<string, Record<string, unknown>>();
    for (const event of events) {
      const key = storedEventKey(event);
      const expiresAt = storedPayloadExpiry(event.publishedAt, this.attemptLogTtlDays);
      if (items.has(key) || expiresAt === undefined) continue;
      const payloadGz = gzipSync(stringifyJson(event.payload));
      if (payloadGz.byteLength > MAX_STORED_BYTES) continue;
      items.set(key, { ...storedPayloadKey(event.projectId, event.eventId), [ttlAttribute]: expiresAt, payloadGz });
    }
    const stored = new Set<string>();
    const entries = [...items];
    for (let start = 0; start < entries.length; start += BATCH_WRITE_ITEMS) {
      const chunk = entries.slice(start, start + BATCH_WRITE_ITEMS);
      try {
        await batchPut(
          this.client,
          this.tableName,
          chunk.map(([, item]) => item),
        );
        for (const [key] of chunk) stored.add(key);
      } catch (error) {
        logger.warn('event payloads not stored; their attempts keep them', { events: chunk.length, error: String(error) });
        metrics.addMetric('EventPayloadsUnstored', 'Count', chunk.length);
      }
    }
    return stored;
  }

  /**
   * The stored payloads of these events, by `storedEventKey`; one DynamoDB has deleted is absent
   * (an expired one it has not is still returned: payloads outlive the attempts that refer to them).
   */
  async get(events: { projectId: string; eventId: string }[]): Promise<Map<string, Record<string, unknown>>> {
    // Each event once (BatchGetItem refuses duplicate keys); items come back by their table key,
    // mapped to their event's key without parsing it.
    const tableKeys = new Map<string, Record<string, string>>();
    const eventKeyOf = new Map<string, string>();
    for (const event of events) {
      const tableKey = storedPayloadKey(event.projectId, event.eventId);
      tableKeys.set(String(tableKey[PK]), tableKey);
      eventKeyOf.set(String(tableKey[PK]), storedEventKey(event));
    }
    const items = await batchGetAll(this.client, this.tableName, [...tableKeys.values()], false);
    const payloads = new Map<string, Record<string, unknown>>();
    for (const item of items) {
      const key = eventKeyOf.get(String(item[PK]));
      if (key === undefined || !(item.payloadGz instanceof Uint8Array)) continue;
      payloads.set(key, JSON.parse(gunzipSync(item.payloadGz).toString('utf8')) as Record<string, unknown>);
    }
    return payloads;
  }
}

/** An event's key among the stored ones: its project and id. */
export const storedEventKey = (event: { projectId: string; eventId: string }): string => `${event.projectId}#${event.eventId}`;
