import { gunzipSync, gzipSync } from 'node:zlib';
import { Attempt, LoggedAttempt } from '../core/attempt';
import { stringifyJson } from '../core/json-text';
import { TABLE_KEYS } from '../core/settings';

const { partitionKey: PK, sortKey: SK, ttlAttribute } = TABLE_KEYS;

/**
 * How attempts are laid out in the table (docs/design.md §3.5, §3.18). A subscription's
 * attempts are spread over `attemptLogShards` partition keys, chosen by the log id. An attempt
 * with its own payload is an item of its own; the attempts of one delivery invocation for one
 * subscription that refer to their events' stored payloads share one item, a *group*, so a
 * batch that delivers three events to a subscriber writes one small item, not three.
 *
 * A log id is `{epoch ms, 14 digits}-{10 hex}`; an attempt in a group has its group's id (the
 * item's sort key) and `_{index, 2 digits}`, so ids still sort by time and name their item.
 */
export const logKeys = {
  subscription: (projectId: string, subscriptionId: string, shard: number) => `LOGS#${projectId}#${subscriptionId}#${shard}`,
  /** The name a cursor carries, so it is only accepted by the listing it came from. */
  listing: (projectId: string, subscriptionId?: string) => (subscriptionId ? `LOGS#${projectId}#${subscriptionId}` : `HISTORY#${projectId}`),
};

/** A log id, alone or in a group. */
export const LOG_ID = /^\d{14}-[0-9a-f]{10}(_\d{2})?$/;

/** Characters of a log id without its place in a group: the item's sort key. */
const ITEM_ID_LENGTH = 25;

/** The sort key of the item that holds a log id. */
export const itemIdOf = (logId: string): string => logId.slice(0, ITEM_ID_LENGTH);

/** The shard of a log id: its item id's last (random, hex) digit, spread over the shards. */
export const shardOf = (logId: string): number => parseInt(itemIdOf(logId).slice(-1), 16) % TABLE_KEYS.attemptLogShards;

/** The most attempts one group item holds (a subscription's attempts of one invocation: up to 10 packs of 10). */
const MAX_GROUP = 25;

/** DynamoDB's item limit is 400 KB; the rest is margin for our estimate of the other attributes. */
const MAX_LOGGED_ITEM_BYTES = 390 * 1024;

/** An attempt read back: `refersToEvent` when its payload is its event's stored one. */
export interface ReadAttempt {
  attempt: Attempt;
  refersToEvent: boolean;
}

/**
 * The items of a batch's attempts. Attempts that refer to their events' payloads are grouped by
 * subscription, in time order; the rest, and any attempt alone in its group, are single items.
 * Payloads and groups are compressed JSON text: DynamoDB cannot refuse bytes for their nesting
 * or numbers, and a group's attempts repeat most of their fields.
 */
export function attemptItems(attempts: LoggedAttempt[], ttlDays: number): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  const groups = new Map<string, LoggedAttempt[]>();
  for (const attempt of attempts) {
    if (attempt.payloadWithEvent && attempt.payload === undefined) {
      const key = JSON.stringify([attempt.projectId, attempt.subscriptionId]);
      groups.set(key, [...(groups.get(key) ?? []), attempt]);
    } else {
      items.push(singleItem(attempt, ttlDays));
    }
  }
  for (const members of groups.values()) {
    members.sort((a, b) => a.attemptedAt.localeCompare(b.attemptedAt) || a.logId.localeCompare(b.logId));
    for (let start = 0; start < members.length; start += MAX_GROUP) {
      const chunk = members.slice(start, start + MAX_GROUP);
      items.push(chunk.length === 1 ? singleItem(chunk[0]!, ttlDays) : groupItem(chunk, ttlDays));
    }
  }
  return items;
}

function keysOf(attempt: LoggedAttempt, itemId: string, ttlDays: number): Record<string, unknown> {
  return {
    [PK]: logKeys.subscription(attempt.projectId, attempt.subscriptionId, shardOf(itemId)),
    [SK]: itemId,
    [ttlAttribute]: Math.floor(Date.parse(attempt.attemptedAt) / 1000) + ttlDays * 86_400,
  };
}

function singleItem(attempt: LoggedAttempt, ttlDays: number): Record<string, unknown> {
  const { payload, ...rest } = attempt;
  const item: Record<string, unknown> = { ...keysOf(attempt, attempt.logId, ttlDays), ...rest };
  if (payload === undefined) return item;
  const payloadGz = gzipSync(stringifyJson(payload));
  if (payloadGz.byteLength + Buffer.byteLength(JSON.stringify(item)) > MAX_LOGGED_ITEM_BYTES) {
    return { ...item, payloadOmitted: `too large to log (${payloadGz.byteLength} bytes compressed)` };
  }
  return { ...item, payloadGz };
}

/** One item for attempts in time order: its id is the first's, each attempt's is the item's and its index. */
function groupItem(members: LoggedAttempt[], ttlDays: number): Record<string, unknown> {
  const itemId = members[0]!.logId;
  const grouped = members.map(({ payloadWithEvent: _marker, ...attempt }, index) => ({ ...attempt, logId: `${itemId}_${String(index).padStart(2, '0')}` }));
  // The item lives as long as its newest attempt's log would.
  return { ...keysOf(members.at(-1)!, itemId, ttlDays), attemptsGz: gzipSync(stringifyJson(grouped)) };
}

/** Attributes only the table holds, never shown as an attempt's. */
const STORE_ONLY = new Set<string>([PK, SK, ttlAttribute, 'payloadGz', 'payloadWithEvent', 'attemptsGz']);

/** The attempts an item holds, oldest first. */
export function attemptsOf(item: Record<string, unknown>): ReadAttempt[] {
  if (item.attemptsGz instanceof Uint8Array) {
    const grouped = JSON.parse(gunzipSync(item.attemptsGz).toString('utf8')) as Attempt[];
    return grouped.map((attempt) => ({ attempt, refersToEvent: true }));
  }
  const attempt = Object.fromEntries(Object.entries(item).filter(([name]) => !STORE_ONLY.has(name))) as unknown as Attempt;
  if (item.payloadGz instanceof Uint8Array) {
    attempt.payload = JSON.parse(gunzipSync(item.payloadGz).toString('utf8')) as Attempt['payload'];
  }
  return [{ attempt, refersToEvent: item.payloadWithEvent === true }];
}
