import { gunzipSync, gzipSync } from 'node:zlib';
import { BatchWriteCommand, BatchWriteCommandOutput, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DELIVERY, TABLE_KEYS } from '../../lib/settings';
import { Attempt } from '../core/attempt';
import { ValidationError } from '../core/errors';
import { stringifyJson } from '../core/json-text';
import { batchGetAll, dynamoDocumentClient, queryAll } from './aws-clients';
import { logger, metrics } from './observability';

const { partitionKey: PK, sortKey: SK, historyIndex, ttlAttribute } = TABLE_KEYS;

const logKeys = {
  subscription: (projectId: string, subscriptionId: string) => `LOGS#${projectId}#${subscriptionId}`,
  project: (projectId: string) => `HISTORY#${projectId}`,
};

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
    const page = await this.query(undefined, PK, logKeys.subscription(projectId, subscriptionId), limit, cursor);
    return { items: page.items.map(fromItem), nextCursor: page.nextCursor };
  }

  /** One attempt of a subscription. */
  async get(projectId: string, subscriptionId: string, logId: string): Promise<Attempt | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: logKeys.subscription(projectId, subscriptionId), [SK]: logId },
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /** Every attempt of a subscription since a time (log ids begin with the attempt's epoch ms). */
  async listSince(projectId: string, subscriptionId: string, since: Date): Promise<Attempt[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk >= :since',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: {
        ':pk': logKeys.subscription(projectId, subscriptionId),
        ':since': since.getTime().toString().padStart(14, '0'),
      },
    });
    return items.map(fromItem);
  }

  /**
   * A project's attempts across its subscriptions, newest first: a page of keys from the
   * keys-only history index, then the attempts themselves from the table, read in index order
   * until the page holds about 1 MB (as a DynamoDB query page would), where the cursor then
   * points. An attempt whose log expired in between is left out.
   */
  async listByProject(projectId: string, limit: number, cursor?: string): Promise<AttemptPage> {
    const page = await this.query(historyIndex.name, historyIndex.partitionKey, logKeys.project(projectId), limit, cursor);
    const keyOf = (item: Record<string, unknown>) => `${String(item[PK])}\n${String(item[SK])}`;
    const items: Attempt[] = [];
    let bytes = 0;
    for (let start = 0; start < page.items.length; start += HISTORY_READ_KEYS) {
      const entries = page.items.slice(start, start + HISTORY_READ_KEYS);
      const found = await batchGetAll(this.client, this.tableName, entries.map((entry) => ({ [PK]: entry[PK], [SK]: entry[SK] })), true);
      const byKey = new Map(found.map((item) => [keyOf(item), item]));
      for (const [offset, entry] of entries.entries()) {
        const item = byKey.get(keyOf(entry));
        if (!item) continue;
        const attempt = fromItem(item);
        items.push(attempt);
        bytes += Buffer.byteLength(stringifyJson(attempt));
        if (bytes >= PAGE_BYTES && start + offset < page.items.length - 1) {
          return { items, nextCursor: encodeCursor(Object.fromEntries(HISTORY_CURSOR_KEYS.map((name) => [name, entry[name]]))) };
        }
      }
    }
    return { items, nextCursor: page.nextCursor };
  }

  private async query(
    indexName: string | undefined,
    keyName: string,
    keyValue: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#key = :value',
        ExpressionAttributeNames: { '#key': keyName },
        ExpressionAttributeValues: { ':value': keyValue },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, keyName, keyValue, indexName ? HISTORY_CURSOR_KEYS : LOG_CURSOR_KEYS),
      }),
    );
    return {
      items: page.Items ?? [],
      nextCursor: page.LastEvaluatedKey ? encodeCursor(page.LastEvaluatedKey) : null,
    };
  }

  private toItem(attempt: Attempt): Record<string, unknown> {
    const { payload, ...rest } = attempt;
    const item: Record<string, unknown> = {
      [PK]: logKeys.subscription(attempt.projectId, attempt.subscriptionId),
      [SK]: attempt.logId,
      [historyIndex.partitionKey]: logKeys.project(attempt.projectId),
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

const LOG_CURSOR_KEYS = [PK, SK];
const HISTORY_CURSOR_KEYS = [PK, SK, historyIndex.partitionKey, historyIndex.sortKey];

const encodeCursor = (key: Record<string, unknown>): string => Buffer.from(JSON.stringify(key)).toString('base64url');

/**
 * A cursor is only accepted for the listing it came from, so it cannot read another key, and
 * only with exactly the string keys DynamoDB expects, so a forged one is a 400, not a 500.
 */
function decodeCursor(
  cursor: string | undefined,
  keyName: string,
  keyValue: string,
  keyNames: string[],
): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    const names = Object.keys(key).sort();
    const wellFormed =
      names.length === keyNames.length &&
      [...keyNames].sort().every((name, index) => names[index] === name && typeof key[name] === 'string' && key[name] !== '');
    if (wellFormed && key[keyName] === keyValue) return key;
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
