import { gunzipSync, gzipSync } from 'node:zlib';
import { BatchWriteCommand, BatchWriteCommandOutput, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DELIVERY, TABLE_KEYS } from '../core/settings';
import { Attempt } from '../core/attempt';
import { ValidationError } from '../core/errors';
import { stringifyJson } from '../core/json-text';
import { batchGetAll, dynamoDocumentClient, queryAll } from './aws-clients';
import { logger, metrics } from './observability';

const { partitionKey: PK, sortKey: SK, historyIndex, ttlAttribute } = TABLE_KEYS;

/**
 * Where logs live. A subscription's attempts and a project's history index are each spread
 * over `attemptLogShards` partition keys, chosen by the log id, so one busy subscription can log
 * that many times the ~1,000 writes/s one partition key takes (docs/design.md §3.5); a page is
 * the newest of the shards' newest, merged.
 */
const logKeys = {
  subscription: (projectId: string, subscriptionId: string, shard: number) => `LOGS#${projectId}#${subscriptionId}#${shard}`,
  project: (projectId: string, shard: number) => `HISTORY#${projectId}#${shard}`,
  /** The name a cursor carries, so it is only accepted by the listing it came from. */
  listing: (projectId: string, subscriptionId?: string) => (subscriptionId ? `LOGS#${projectId}#${subscriptionId}` : `HISTORY#${projectId}`),
};

const SHARDS = Array.from({ length: TABLE_KEYS.attemptLogShards }, (_, shard) => shard);

/** The shard of a log id: its last (random, hex) digit, spread over the shards. */
export const shardOf = (logId: string): number => parseInt(logId.slice(-1), 16) % TABLE_KEYS.attemptLogShards;

/** A page of attempts, newest first, and the cursor of the next page. */
export interface AttemptPage {
  items: Attempt[];
  nextCursor: string | null;
}

/** Delivery attempt logs, each with a TTL, readable per subscription and per project. */
export class AttemptLogStore {
  constructor(
    private readonly tableName: string,
    private readonly ttlDays: number = DELIVERY.attemptLogTtlDays,
    private readonly client = dynamoDocumentClient,
  ) {}

  /**
   * Writes attempts in batches of 25, retrying what DynamoDB leaves unprocessed. Nothing a
   * client sent can make this throw: payloads are stored as compressed JSON text (DynamoDB
   * cannot refuse bytes for their nesting or numbers), an item that would pass 400 KB is
   * logged without its payload, and a batch DynamoDB refuses is written item by item, so one
   * item it still refuses costs only that item's payload, never the other attempts.
   */
  async write(attempts: Attempt[]): Promise<void> {
    for (let start = 0; start < attempts.length; start += 25) {
      const items = attempts.slice(start, start + 25).map((attempt) => this.toItem(attempt));
      try {
        await this.batchWrite(items);
      } catch (error) {
        if (!isValidationError(error)) throw error;
        for (const item of items) await this.putAlone(item);
      }
    }
  }

  private async batchWrite(items: Record<string, unknown>[]): Promise<void> {
    let requests = items.map((Item) => ({ PutRequest: { Item } }));
    for (let round = 0; requests.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** round)));
      const result: BatchWriteCommandOutput = await this.client.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }),
      );
      requests = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      if (round > 8 && requests.length > 0) throw new Error('attempt logs left unprocessed by DynamoDB');
    }
  }

  /** One item on its own; refused, it is written again without what a client sent. */
  private async putAlone(item: Record<string, unknown>): Promise<void> {
    try {
      await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
      return;
    } catch (error) {
      if (!isValidationError(error)) throw error;
      logger.error('attempt log refused by DynamoDB; logging it without payload and response', {
        logId: item[SK],
        reason: (error as Error).message,
      });
    }
    const { payloadGz: _payload, responseBody: _response, ...bare } = item;
    try {
      await this.client.send(
        new PutCommand({ TableName: this.tableName, Item: { ...bare, payloadOmitted: 'refused by DynamoDB' } }),
      );
    } catch (error) {
      if (!isValidationError(error)) throw error;
      logger.error('attempt log could not be written at all', { logId: item[SK], reason: (error as Error).message });
      metrics.addMetric('AttemptLogUnwritable', 'Count', 1);
    }
  }

  /** A subscription's attempts, newest first. */
  async listBySubscription(projectId: string, subscriptionId: string, limit: number, cursor?: string): Promise<AttemptPage> {
    const listing = logKeys.listing(projectId, subscriptionId);
    const before = decodeCursor(cursor, listing);
    const { keys, more } = await this.newestOfShards(
      undefined,
      PK,
      SK,
      (shard) => logKeys.subscription(projectId, subscriptionId, shard),
      limit,
      before,
    );
    return this.page(keys, more, listing, (found) => found);
  }

  /** One attempt of a subscription. */
  async get(projectId: string, subscriptionId: string, logId: string): Promise<Attempt | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: logKeys.subscription(projectId, subscriptionId, shardOf(logId)), [SK]: logId },
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /**
   * Every attempt of a subscription since a time (log ids begin with the attempt's epoch ms),
   * without payloads: recover plans from these, then reads the few it resends with `get`.
   */
  async listSince(projectId: string, subscriptionId: string, since: Date): Promise<Attempt[]> {
    const perShard = await Promise.all(
      SHARDS.map((shard) =>
        queryAll(this.client, {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk >= :since',
          ProjectionExpression: LIGHT_ATTRIBUTES.map((_, index) => `#a${index}`).join(', '),
          ExpressionAttributeNames: {
            '#pk': PK,
            '#sk': SK,
            ...Object.fromEntries(LIGHT_ATTRIBUTES.map((name, index) => [`#a${index}`, name])),
          },
          ExpressionAttributeValues: {
            ':pk': logKeys.subscription(projectId, subscriptionId, shard),
            ':since': since.getTime().toString().padStart(14, '0'),
          },
        }),
      ),
    );
    return perShard.flat().map(fromItem);
  }

  /**
   * One bounded page of a subscription's attempts from `fromKey` on (a log id, or the epoch-ms
   * prefix of one), oldest first, without payloads: at most `perShard` from each shard. The page
   * holds every attempt before `nextKey` (the smallest last key among the shards that had more),
   * so the next page, from `nextKey`, neither skips nor repeats one; no `nextKey`: nothing is left.
   */
  async listPageFrom(projectId: string, subscriptionId: string, fromKey: string, perShard: number): Promise<{ attempts: Attempt[]; nextKey?: string }> {
    const perShardPages = await Promise.all(
      SHARDS.map(async (shard) => {
        const { Items = [], LastEvaluatedKey } = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk >= :from',
            ProjectionExpression: LIGHT_ATTRIBUTES.map((_, index) => `#a${index}`).join(', '),
            ExpressionAttributeNames: {
              '#pk': PK,
              '#sk': SK,
              ...Object.fromEntries(LIGHT_ATTRIBUTES.map((name, index) => [`#a${index}`, name])),
            },
            ExpressionAttributeValues: { ':pk': logKeys.subscription(projectId, subscriptionId, shard), ':from': fromKey },
            Limit: perShard,
          }),
        );
        return { items: Items, more: LastEvaluatedKey !== undefined };
      }),
    );
    const cuts = perShardPages.filter((page) => page.more && page.items.length > 0).map((page) => String(page.items.at(-1)![SK]));
    const nextKey = cuts.length > 0 ? cuts.reduce((a, b) => (a < b ? a : b)) : undefined;
    const items = perShardPages.flatMap((page) => page.items).filter((item) => nextKey === undefined || String(item[SK]) < nextKey);
    return { attempts: items.map(fromItem), nextKey };
  }

  /**
   * A project's attempts across its subscriptions, newest first: the newest keys of each shard
   * of the keys-only history index, merged, then the attempts themselves from the table, read
   * in that order until the page holds about 1 MB (as a DynamoDB query page would), where the
   * cursor then points. An attempt whose log expired in between is left out.
   */
  async listByProject(projectId: string, limit: number, cursor?: string): Promise<AttemptPage> {
    const listing = logKeys.listing(projectId);
    const before = decodeCursor(cursor, listing);
    const { keys, more } = await this.newestOfShards(
      historyIndex.name,
      historyIndex.partitionKey,
      historyIndex.sortKey,
      (shard) => logKeys.project(projectId, shard),
      limit,
      before,
    );
    return this.page(keys, more, listing, async (entries) => {
      const keyOf = (item: Record<string, unknown>) => `${String(item[PK])}\n${String(item[SK])}`;
      const found: Record<string, unknown>[] = [];
      for (let start = 0; start < entries.length; start += HISTORY_READ_KEYS) {
        const slice = entries.slice(start, start + HISTORY_READ_KEYS);
        found.push(...(await batchGetAll(this.client, this.tableName, slice.map((entry) => ({ [PK]: entry[PK], [SK]: entry[SK] })), true)));
      }
      const byKey = new Map(found.map((item) => [keyOf(item), item]));
      return entries.flatMap((entry) => {
        const item = byKey.get(keyOf(entry));
        return item ? [item] : [];
      });
    });
  }

  /**
   * The newest `limit` items (keys, for an index) across the shards, each shard asked for its
   * newest `limit` before the cursor; `more` says whether any shard has older ones.
   */
  private async newestOfShards(
    indexName: string | undefined,
    keyName: string,
    sortName: string,
    keyOf: (shard: number) => string,
    limit: number,
    before: string | undefined,
  ): Promise<{ keys: Record<string, unknown>[]; more: boolean }> {
    const pages = await Promise.all(
      SHARDS.map((shard) =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: indexName,
            KeyConditionExpression: before ? '#key = :value AND #sort < :before' : '#key = :value',
            ExpressionAttributeNames: { '#key': keyName, ...(before ? { '#sort': sortName } : {}) },
            ExpressionAttributeValues: { ':value': keyOf(shard), ...(before ? { ':before': before } : {}) },
            ScanIndexForward: false,
            Limit: limit,
          }),
        ),
      ),
    );
    const all = pages.flatMap((page) => page.Items ?? []).sort((a, b) => String(b[sortName]).localeCompare(String(a[sortName])));
    const more = all.length > limit || pages.some((page) => page.LastEvaluatedKey !== undefined);
    return { keys: all.slice(0, limit), more };
  }

  /** Reads a page's attempts and stops it at about 1 MB; the cursor is the last log id shown. */
  private async page(
    keys: Record<string, unknown>[],
    more: boolean,
    listing: string,
    read: (keys: Record<string, unknown>[]) => Promise<Record<string, unknown>[]> | Record<string, unknown>[],
  ): Promise<AttemptPage> {
    const items: Attempt[] = [];
    let bytes = 0;
    const found = await read(keys);
    for (const [index, item] of found.entries()) {
      const attempt = fromItem(item);
      items.push(attempt);
      bytes += Buffer.byteLength(stringifyJson(attempt));
      if (bytes >= PAGE_BYTES && index < found.length - 1) return { items, nextCursor: encodeCursor(listing, attempt.logId) };
    }
    const last = items.at(-1) ?? (keys.at(-1) ? { logId: String(keys.at(-1)![SK]) } : undefined);
    return { items, nextCursor: more && last ? encodeCursor(listing, last.logId) : null };
  }

  private toItem(attempt: Attempt): Record<string, unknown> {
    const { payload, ...rest } = attempt;
    const item: Record<string, unknown> = {
      [PK]: logKeys.subscription(attempt.projectId, attempt.subscriptionId, shardOf(attempt.logId)),
      [SK]: attempt.logId,
      [historyIndex.partitionKey]: logKeys.project(attempt.projectId, shardOf(attempt.logId)),
      [historyIndex.sortKey]: attempt.logId,
      [ttlAttribute]: Math.floor(Date.parse(attempt.attemptedAt) / 1000) + this.ttlDays * 86_400,
      ...rest,
    };
    if (payload === undefined) return item;
    const payloadGz = gzipSync(stringifyJson(payload));
    if (payloadGz.byteLength + approximateSize(item) > MAX_LOGGED_ITEM_BYTES) {
      return { ...item, payloadOmitted: `too large to log (${payloadGz.byteLength} bytes compressed)` };
    }
    return { ...item, payloadGz };
  }
}

/** DynamoDB's item limit is 400 KB; the rest is margin for our estimate of the other attributes. */
const MAX_LOGGED_ITEM_BYTES = 390 * 1024;

/** An upper estimate of an item's size without its payload: names plus values as JSON text. */
function approximateSize(item: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(item));
}

function isValidationError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ValidationException';
}

/**
 * A page of attempts stops once it holds this many bytes, as DynamoDB stops a query page at
 * 1 MB: attempts carry payloads of up to 256 KB, and a Lambda answer is capped at 6 MB.
 */
const PAGE_BYTES = 1024 * 1024;
/** History attempts are read from the table this many at a time (BatchGetItem's maximum). */
const HISTORY_READ_KEYS = 100;

/** What recover plans from: an attempt without its payload and response. */
const LIGHT_ATTRIBUTES = ['logId', 'projectId', 'subscriptionId', 'webhookId', 'eventId', 'event', 'target', 'attempt', 'outcome', 'error', 'attemptedAt', 'nextAttemptAt', 'durationMs'];

/** A log id: epoch ms in 14 digits, a dash, 10 hex digits (`newLogId`). */
const LOG_ID = /^\d{14}-[0-9a-f]{10}$/;

const encodeCursor = (listing: string, before: string): string => Buffer.from(JSON.stringify({ listing, before })).toString('base64url');

/**
 * A cursor is the listing it belongs to and the log id the next page starts before; it is only
 * accepted for that listing and with a well-formed log id, so a forged one is a 400, not a 500.
 */
function decodeCursor(cursor: string | undefined, listing: string): string | undefined {
  if (!cursor) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    const names = Object.keys(parsed).sort().join(',');
    if (names === 'before,listing' && parsed.listing === listing && typeof parsed.before === 'string' && LOG_ID.test(parsed.before)) {
      return parsed.before;
    }
  } catch {
    // falls through to the validation error
  }
  throw new ValidationError('invalid cursor', [{ field: 'cursor', message: 'not a cursor of this listing' }]);
}

const STORE_ONLY = new Set<string>([PK, SK, historyIndex.partitionKey, historyIndex.sortKey, ttlAttribute, 'payloadGz']);

function fromItem(item: Record<string, unknown>): Attempt {
  const attempt = Object.fromEntries(Object.entries(item).filter(([name]) => !STORE_ONLY.has(name))) as unknown as Attempt;
  if (item.payloadGz instanceof Uint8Array) {
    attempt.payload = JSON.parse(gunzipSync(item.payloadGz).toString('utf8')) as Attempt['payload'];
  }
  return attempt;
}
