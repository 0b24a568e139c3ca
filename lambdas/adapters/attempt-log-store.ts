import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { AWS_CALLS, DELIVERY, TABLE_KEYS } from '../core/settings';
import { atMostAtOnce } from '../core/in-pools';
import { Attempt, LoggedAttempt } from '../core/attempt';
import { ValidationError } from '../core/errors';
import { stringifyJson } from '../core/json-text';
import { LOG_ID, ReadAttempt, attemptItems, attemptsOf, itemIdOf, logKeys, shardOf } from './attempt-log-items';
import { BATCH_WRITE_ITEMS, batchPut, dynamoDocumentClient, isExpired, queryAll } from './aws-clients';
import { EventPayloadStore, storedEventKey } from './event-payload-store';
import { logger, metrics } from './observability';

const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_KEYS;

/**
 * Where logs live (`attempt-log-items.ts`): a subscription's attempts spread over
 * `attemptLogShards` partition keys, so one busy subscription can log that many times the ~1,000
 * writes/s one partition key takes (docs/design.md §3.5); a page is the newest of the shards'
 * newest, merged. A project's history is the same merge over all its subscriptions' shards: no
 * index entry is written per attempt (docs/design.md §3.18).
 */
const SHARDS = Array.from({ length: TABLE_KEYS.attemptLogShards }, (_, shard) => shard);

/** A page of attempts, newest first, and the cursor of the next page. */
export interface AttemptPage {
  items: Attempt[];
  nextCursor: string | null;
}

/** Delivery attempt logs, each with a TTL, readable per subscription and per project. */
export class AttemptLogStore {
  private readonly eventPayloads: EventPayloadStore;

  constructor(
    private readonly tableName: string,
    private readonly ttlDays: number = DELIVERY.attemptLogTtlDays,
    private readonly client = dynamoDocumentClient,
  ) {
    this.eventPayloads = new EventPayloadStore(tableName, ttlDays, client);
  }

  /**
   * Writes attempts in batches of 25, retrying what DynamoDB leaves unprocessed. Nothing a
   * client sent can make this throw: payloads are stored as compressed JSON text (DynamoDB
   * cannot refuse bytes for their nesting or numbers), an item that would pass 400 KB is
   * logged without its payload, and a batch DynamoDB refuses is written item by item, so one
   * item it still refuses costs only that item's payload, never the other attempts. Attempts
   * whose payloads are stored with their events (`payloadWithEvent`) are logged without a copy,
   * one item per subscription for the batch (`attemptItems`).
   */
  async write(attempts: LoggedAttempt[]): Promise<void> {
    const all = attemptItems(attempts, this.ttlDays);
    for (let start = 0; start < all.length; start += BATCH_WRITE_ITEMS) {
      const items = all.slice(start, start + BATCH_WRITE_ITEMS);
      try {
        await batchPut(this.client, this.tableName, items);
      } catch (error) {
        if (!isValidationError(error)) throw error;
        for (const item of items) await this.putAlone(item);
      }
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
    const partitions = SHARDS.map((shard) => logKeys.subscription(projectId, subscriptionId, shard));
    const { items, more } = await this.newestAcross(partitions, limit, before);
    return this.page(items, more, listing);
  }

  /** One attempt of a subscription, with its payload. */
  async get(projectId: string, subscriptionId: string, logId: string): Promise<Attempt | undefined> {
    if (!LOG_ID.test(logId)) return undefined;
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: logKeys.subscription(projectId, subscriptionId, shardOf(logId)), [SK]: itemIdOf(logId) },
      }),
    );
    const found = Item && !isExpired(Item) ? attemptsOf(Item).filter((read) => read.attempt.logId === logId) : [];
    return found.length > 0 ? (await this.withPayloads(found))[0] : undefined;
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
    return perShard.flat().flatMap(attemptsOf).map((read) => read.attempt);
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
            // The sort key too: a shard's last item gives the page's cut (without it every cut
            // read "undefined", every item was dropped and recover stopped past 250 a shard).
            ProjectionExpression: ['#sk', '#ttl', ...LIGHT_ATTRIBUTES.map((_, index) => `#a${index}`)].join(', '),
            ExpressionAttributeNames: {
              '#pk': PK,
              '#sk': SK,
              '#ttl': TTL,
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
    // Expired items are dropped after the cut (a filter on the query would leave a shard whose
    // page was all expired without a last key, and the page would end too early).
    const now = Date.now();
    const items = perShardPages
      .flatMap((page) => page.items)
      .filter((item) => (nextKey === undefined || String(item[SK]) < nextKey) && !isExpired(item, now));
    return { attempts: items.flatMap(attemptsOf).map((read) => read.attempt), nextKey };
  }

  /**
   * A project's attempts across its subscriptions, newest first: the newest of all the shards
   * of `subscriptionIds` (the project's subscriptions and those deleted while their logs live),
   * merged as in {@link listBySubscription}.
   */
  async listByProject(projectId: string, subscriptionIds: readonly string[], limit: number, cursor?: string): Promise<AttemptPage> {
    const listing = logKeys.listing(projectId);
    const before = decodeCursor(cursor, listing);
    const partitions = [...new Set(subscriptionIds)].flatMap((subscriptionId) => SHARDS.map((shard) => logKeys.subscription(projectId, subscriptionId, shard)));
    const { items, more } = await this.newestAcross(partitions, limit, before);
    return this.page(items, more, listing);
  }

  /**
   * The newest `limit` attempts across partitions, by a k-way merge that reads each partition a
   * few items at a time and reads on only from those it takes from: a page reads about
   * `limit` items plus a few per partition, not `limit` from every one. `more` says whether
   * any partition may hold older ones. A group item is read whole; those of its attempts at or
   * after `before` were on an earlier page.
   */
  private async newestAcross(partitions: string[], limit: number, before: string | undefined): Promise<{ items: ReadAttempt[]; more: boolean }> {
    const chunk = Math.min(limit + 1, Math.max(2, Math.ceil(limit / Math.max(1, partitions.length)) + 1));
    interface Stream {
      key: string;
      buffer: ReadAttempt[];
      next?: Record<string, unknown>;
      done: boolean;
    }
    const read = async (stream: Stream): Promise<void> => {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: before ? '#key = :value AND #sort < :before' : '#key = :value',
          ExpressionAttributeNames: { '#key': PK, ...(before ? { '#sort': SK } : {}) },
          ExpressionAttributeValues: { ':value': stream.key, ...(before ? { ':before': before } : {}) },
          ExclusiveStartKey: stream.next,
          ScanIndexForward: false,
          Limit: chunk,
        }),
      );
      for (const item of page.Items ?? []) {
        // Newest first: past an expired item, the rest of the partition is older and expired too
        // (but for the seconds a group spans), so the stream ends rather than read them all.
        if (isExpired(item, now)) {
          stream.next = undefined;
          stream.done = true;
          return;
        }
        const attempts = attemptsOf(item).reverse();
        stream.buffer.push(...(before ? attempts.filter((read) => read.attempt.logId < before) : attempts));
      }
      stream.next = page.LastEvaluatedKey;
      stream.done = page.LastEvaluatedKey === undefined;
    };
    const now = Date.now();
    const streams: Stream[] = partitions.map((key) => ({ key, buffer: [], done: false }));
    const items: ReadAttempt[] = [];
    while (items.length < limit) {
      // A partition read dry but not done may hold the newest item left: read it on first (a
      // few at a time, AWS_CALLS.callsAtOnce: a first page reads every partition).
      let dry = streams.filter((stream) => stream.buffer.length === 0 && !stream.done);
      while (dry.length > 0) {
        await atMostAtOnce(dry, AWS_CALLS.callsAtOnce, read);
        dry = dry.filter((stream) => stream.buffer.length === 0 && !stream.done);
      }
      let newest: Stream | undefined;
      for (const stream of streams) {
        if (stream.buffer.length > 0 && (!newest || stream.buffer[0]!.attempt.logId > newest.buffer[0]!.attempt.logId)) newest = stream;
      }
      if (!newest) break;
      items.push(newest.buffer.shift()!);
    }
    return { items, more: streams.some((stream) => stream.buffer.length > 0 || !stream.done) };
  }

  /**
   * Attempts from their items, each with its payload: a copy of its own, or its event's stored
   * payload, read for the whole page at once (one BatchGetItem per 100 events). A stored payload
   * gone before its attempt (it cannot be, by their TTLs, unless deleted by hand) is said so.
   */
  private async withPayloads(found: ReadAttempt[]): Promise<Attempt[]> {
    const attempts = found.map((read) => read.attempt);
    const referring = found.filter((read) => read.refersToEvent).map((read) => read.attempt);
    if (referring.length === 0) return attempts;
    const payloads = await this.eventPayloads.get(referring);
    for (const attempt of referring) {
      const payload = payloads.get(storedEventKey(attempt));
      if (payload) attempt.payload = payload;
      else attempt.payloadOmitted = 'expired with its event';
    }
    return attempts;
  }

  /** Reads a page's attempts and stops it at about 1 MB; the cursor is the last log id shown. */
  private async page(found: ReadAttempt[], more: boolean, listing: string): Promise<AttemptPage> {
    const items: Attempt[] = [];
    let bytes = 0;
    for (const [index, attempt] of (await this.withPayloads(found)).entries()) {
      items.push(attempt);
      bytes += Buffer.byteLength(stringifyJson(attempt));
      if (bytes >= PAGE_BYTES && index < found.length - 1) return { items, nextCursor: encodeCursor(listing, attempt.logId) };
    }
    const last = items.at(-1);
    return { items, nextCursor: more && last ? encodeCursor(listing, last.logId) : null };
  }
}

function isValidationError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ValidationException';
}

/**
 * A page of attempts stops once it holds this many bytes, as DynamoDB stops a query page at
 * 1 MB: attempts carry payloads of up to 256 KB, and a Lambda answer is capped at 6 MB.
 */
const PAGE_BYTES = 1024 * 1024;

/** What recover plans from: an attempt without its payload and response (a group's attempts, whole). */
const LIGHT_ATTRIBUTES = [
  'logId',
  'projectId',
  'subscriptionId',
  'webhookId',
  'eventId',
  'event',
  'target',
  'attempt',
  'outcome',
  'error',
  'attemptedAt',
  'nextAttemptAt',
  'durationMs',
  'attemptsGz',
];

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
