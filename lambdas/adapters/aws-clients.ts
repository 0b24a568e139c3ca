import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  BatchGetCommandOutput,
  BatchWriteCommand,
  BatchWriteCommandOutput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommandInput,
  paginateQuery,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { AwsBusyError } from '../core/errors';
import { TABLE_KEYS } from '../core/settings';
import { SDK_CLIENT_CONFIG } from './sdk-config';
import { sdkClient } from './observability';

/**
 * SDK clients, created once per container and shared by every adapter. Endpoints come from
 * the standard `AWS_ENDPOINT_URL` variable, which is how the local stack points them at itself.
 */
export const dynamoDocumentClient = DynamoDBDocumentClient.from(sdkClient(new DynamoDBClient({ ...SDK_CLIENT_CONFIG })), {
  marshallOptions: { removeUndefinedValues: true },
});

/**
 * No MD5 of message bodies: the SDK would hash every body it sends and compare SQS's digest,
 * which HTTPS already guarantees; it was 2.5 % of the local stack's CPU (BENCHMARKS.md).
 */
export const sqsClient = sdkClient(new SQSClient({ ...SDK_CLIENT_CONFIG, md5: false }));

/** Every item a query matches, following LastEvaluatedKey through all pages. */
export async function queryAll(client: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}

/** How many times a batch request's unprocessed part is asked again (with a growing pause) before it is an error. */
const UNPROCESSED_ROUNDS = 9;

/** BatchGetItem takes at most 100 keys per request. */
const BATCH_GET_KEYS = 100;

/**
 * The items of `keys` that exist, read in requests of 100; keys DynamoDB leaves unprocessed
 * (throttling) are asked again after a short, growing pause, ~5 s in all, then it throws.
 * Order is not kept.
 */
export async function batchGetAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: Record<string, unknown>[],
  consistentRead: boolean,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_KEYS) {
    let request: Record<string, unknown>[] | undefined = keys.slice(start, start + BATCH_GET_KEYS);
    for (let round = 0; request && request.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** round)));
      const result: BatchGetCommandOutput = await client.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: request, ConsistentRead: consistentRead } } }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      request = result.UnprocessedKeys?.[tableName]?.Keys;
      // As batchPut: DynamoDB throttling for ~5 s is an error, not a loop until the function times out.
      if (round >= UNPROCESSED_ROUNDS && request && request.length > 0) throw new AwsBusyError(`${request.length} key(s) left unprocessed by DynamoDB`);
    }
  }
  return items;
}

/** BatchWriteItem takes at most 25 items per request. */
export const BATCH_WRITE_ITEMS = 25;

/**
 * Puts up to 25 items in one BatchWriteItem, asking again for what DynamoDB leaves unprocessed
 * (throttling) after a short, growing pause; throws when some are still left after ~9 rounds.
 */
export async function batchPut(client: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]): Promise<void> {
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  for (let round = 0; requests.length > 0; round++) {
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** round)));
    const result: BatchWriteCommandOutput = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
    requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    if (round >= UNPROCESSED_ROUNDS && requests.length > 0) throw new AwsBusyError(`${requests.length} item(s) left unprocessed by DynamoDB`);
  }
}

/**
 * Whether a conditional write took place: false when its condition did not hold
 * (ConditionalCheckFailedException); any other error goes up.
 */
export async function conditionally(write: Promise<unknown>): Promise<boolean> {
  return (await conditionalWrite(write)) === 'written';
}

/**
 * How a conditional write ended: `written`; `refused` (its condition did not hold, at its first
 * try); or `refused on a retry`: the SDK sent it again (a timeout, a 500) and the condition failed
 * then, so the write may be this request's own, applied with its answer lost, and only reading
 * it back tells. Any other error goes up.
 */
export async function conditionalWrite(write: Promise<unknown>): Promise<'written' | 'refused' | 'refused on a retry'> {
  try {
    await write;
    return 'written';
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return isRefusalOnRetry(error) ? 'refused on a retry' : 'refused';
  }
}

/** A failed condition met by the SDK's retry (`$metadata.attempts` > 1): the write may be the request's own, applied with its answer lost. */
export function isRefusalOnRetry(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException && (error.$metadata?.attempts ?? 1) > 1;
}

/** One attribute of an item, read strongly consistently (a write's read-back). */
export async function readAttribute(client: DynamoDBDocumentClient, tableName: string, Key: Record<string, unknown>, attribute: string): Promise<unknown> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true, ProjectionExpression: '#a', ExpressionAttributeNames: { '#a': attribute } }));
  return Item?.[attribute];
}

/**
 * Whether a conditional write that names itself (`id` in `attribute` of the item at `Key`) took
 * place. A refusal on a retry is read back, so a write applied with its answer lost counts as
 * this request's; a plain refusal reads nothing.
 */
export async function writtenBy(
  client: DynamoDBDocumentClient,
  tableName: string,
  Key: Record<string, unknown>,
  attribute: string,
  id: string,
  write: Promise<unknown>,
): Promise<boolean> {
  const outcome = await conditionalWrite(write);
  if (outcome !== 'refused on a retry') return outcome === 'written';
  return (await readAttribute(client, tableName, Key, attribute)) === id;
}

/** The condition of a {@link putConditionally}. */
export interface PutCondition {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * Puts `item` (which holds the table's key) if `condition` holds; true for the one caller that
 * wrote it. The item carries a random `writeId`: when the put's answer is lost after DynamoDB
 * applied it (a timeout, a 500), the SDK's automatic retry sends the same request, finds the
 * item and fails the condition, and only then (a refusal on a retry, not a plain one) is the item
 * read back (one strongly consistent GetItem) to tell that write from a rival's. Without it such a caller read its own write as
 * someone else's: an ingest request taken for a retry (its event never published), a recover
 * that skipped what it had just claimed.
 */
export async function putConditionally(
  client: DynamoDBDocumentClient,
  tableName: string,
  item: Record<string, unknown>,
  condition: PutCondition,
): Promise<boolean> {
  const writeId = randomUUID();
  const Key = { [TABLE_KEYS.partitionKey]: item[TABLE_KEYS.partitionKey], [TABLE_KEYS.sortKey]: item[TABLE_KEYS.sortKey] };
  try {
    return await writtenBy(client, tableName, Key, 'writeId', writeId, client.send(new PutCommand({ TableName: tableName, Item: { ...item, writeId }, ...condition })));
  } catch (error) {
    // The put may have been applied (its answer lost, the retries failing) or the read-back may
    // have failed: the caller sees an error and will not use the item, so it goes, if it is this
    // request's (else a marker would stand for a write its caller gave up: ingest's retry taken
    // for a duplicate, its event never published). Best effort: the error is what is reported.
    await client
      .send(new DeleteCommand({ TableName: tableName, Key, ConditionExpression: '#w = :mine', ExpressionAttributeNames: { '#w': 'writeId' }, ExpressionAttributeValues: { ':mine': writeId } }))
      .catch(() => undefined);
    throw error;
  }
}

/** Writes `item` unless an item with its key exists; true for the one caller that wrote it. */
export function putIfAbsent(client: DynamoDBDocumentClient, tableName: string, item: Record<string, unknown>): Promise<boolean> {
  return putConditionally(client, tableName, item, {
    ConditionExpression: 'attribute_not_exists(#pk)',
    ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey },
  });
}

/**
 * Whether an item's TTL (`expiresAt`, epoch seconds) has passed. DynamoDB deletes expired items
 * only "typically within two days of expiration", and until then "items that have expired and
 * not been deleted will still show up in reads, queries, and scans" (UpdateTimeToLive): readers
 * that rely on an expiry check it themselves rather than on when the deletion happens to run.
 */
export const isExpired = (item: Record<string, unknown>, nowMs = Date.now()): boolean =>
  typeof item[TABLE_KEYS.ttlAttribute] === 'number' && (item[TABLE_KEYS.ttlAttribute] as number) * 1000 <= nowMs;
