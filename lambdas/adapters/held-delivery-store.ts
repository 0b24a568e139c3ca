import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DELIVERY, TABLE_KEYS } from '../core/settings';
import { ParsedDeliveryMessage, deliveryMessageSchema } from '../core/delivery-message';
import { stringifyJson } from '../core/json-text';
import { conditionally, dynamoDocumentClient, writtenBy } from './aws-clients';
import { subscriptionKeys } from './subscription-store';

const { partitionKey: PK, sortKey: SK, ttlAttribute } = TABLE_KEYS;

/** A held delivery is kept this long at most (`DELIVERY.heldTtlDays`). */
const HELD_TTL_SECONDS = DELIVERY.heldTtlDays * 86_400;

const heldPartition = (projectId: string, subscriptionId: string): string => `HELD#${projectId}#${subscriptionId}`;
const healthKey = (projectId: string, subscriptionId: string): Record<string, string> => ({
  [PK]: subscriptionKeys.project(projectId),
  [SK]: `HEALTH#${subscriptionId}`,
});

/**
 * Deliveries an open circuit holds, parked in DynamoDB instead of delayed on a queue: a delayed
 * SQS message cannot be called back, a parked one can — at once when health is reset, paced
 * when the circuit closes (docs/design.md §3.19). One item per webhook id (parking the same
 * delivery twice keeps one), in the subscription's own partition; the health item counts them
 * (`heldCount`) and carries the time of the one wake-up message that releases them (`wakeAt`).
 *
 * Each park of an item gets its own `parkId`, and the handles this store gives out carry it:
 * removing by handle deletes only that park of the item, so a delivery released and parked
 * again (its circuit reopened) before the release's delete is not deleted with the old copy,
 * and a handle removed twice (a duplicate wake-up) counts off once.
 */
export class HeldDeliveryStore {
  constructor(
    private readonly tableName: string,
    private readonly client = dynamoDocumentClient,
  ) {}

  /**
   * Parks deliveries of one subscription and counts them on its health item; returns their keys.
   * All or nothing: if a write or the count fails, what was written is taken back (best effort)
   * before the error goes up, so a caller that then holds them on the queue leaves no second copy
   * here to be released later.
   */
  async park(projectId: string, subscriptionId: string, messages: ParsedDeliveryMessage[], now: number): Promise<string[]> {
    const expiresAt = Math.floor(now / 1000) + HELD_TTL_SECONDS;
    const parked = messages.map((message) => ({ sortKey: heldKey(message), parkId: randomUUID(), message }));
    // One PutItem each (BatchWriteItem cannot say what it replaced; the write units are the
    // same): a delivery parked again replaces its item and is not counted twice.
    const outcomes = await Promise.allSettled(
      parked.map(async ({ sortKey, parkId, message }) => {
        const { Attributes } = await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              [PK]: heldPartition(projectId, subscriptionId),
              [SK]: sortKey,
              parkId,
              message: stringifyJson({ ...message, notBefore: undefined }),
              [ttlAttribute]: expiresAt,
            },
            ReturnValues: 'ALL_OLD',
          }),
        );
        return Attributes !== undefined;
      }),
    );
    const written = parked.filter((_, index) => outcomes[index]!.status === 'fulfilled');
    const replaced = outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value).length;
    try {
      const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failed) throw failed.reason;
      await this.count(projectId, subscriptionId, written.length - replaced);
    } catch (error) {
      // This park's items go (an item it replaced was counted: counted off); none was counted for it.
      await this.deleteParked(projectId, subscriptionId, written.map(toHandle)).catch(() => undefined);
      if (replaced > 0) await this.count(projectId, subscriptionId, -replaced).catch(() => undefined);
      throw error;
    }
    return parked.map(toHandle);
  }

  /** The oldest parked deliveries of a subscription, up to `limit`, and whether more remain. */
  async oldest(projectId: string, subscriptionId: string, limit: number): Promise<{ keys: string[]; messages: ParsedDeliveryMessage[]; more: boolean }> {
    const { Items = [], LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':pk': heldPartition(projectId, subscriptionId) },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    const keys: string[] = [];
    const messages: ParsedDeliveryMessage[] = [];
    for (const item of Items) {
      keys.push(toHandle({ sortKey: String(item[SK]), parkId: typeof item.parkId === 'string' ? item.parkId : undefined }));
      const parsed = deliveryMessageSchema.safeParse(JSON.parse(String(item.message)));
      if (parsed.success) messages.push(parsed.data);
    }
    return { keys, messages, more: LastEvaluatedKey !== undefined };
  }

  /**
   * Forgets released deliveries (once they are back on a queue), by the handles `park` or
   * `oldest` gave, and counts off those it deleted.
   */
  async remove(projectId: string, subscriptionId: string, keys: string[]): Promise<void> {
    let deleted = 0;
    try {
      deleted = await this.deleteParked(projectId, subscriptionId, keys);
    } catch (error) {
      deleted = (error as { deleted?: number }).deleted ?? 0;
      throw error;
    } finally {
      await this.count(projectId, subscriptionId, -deleted);
    }
  }

  /**
   * Deletes each handle's park of its item: a conditional DeleteItem on its `parkId` (one request
   * each, as BatchWriteItem takes no condition; the write units are the same). Resolves to how
   * many were deleted; a failure says so too (`deleted` on the error) once all have been tried.
   */
  private async deleteParked(projectId: string, subscriptionId: string, handles: string[]): Promise<number> {
    const outcomes = await Promise.allSettled(
      handles.map(async (handle) => {
        const { sortKey, parkId } = fromHandle(handle);
        try {
          await this.client.send(
            new DeleteCommand({
              TableName: this.tableName,
              Key: { [PK]: heldPartition(projectId, subscriptionId), [SK]: sortKey },
              // An item parked before park ids existed is deleted as before, unconditionally.
              ...(parkId === undefined
                ? {}
                : { ConditionExpression: '#park = :park', ExpressionAttributeNames: { '#park': 'parkId' }, ExpressionAttributeValues: { ':park': parkId } }),
            }),
          );
          return 1;
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) return 0;
          throw error;
        }
      }),
    );
    const deleted = outcomes.reduce((sum, outcome) => sum + (outcome.status === 'fulfilled' ? outcome.value : 0), 0);
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw Object.assign(failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason)), { deleted });
    return deleted;
  }

  /**
   * Sets the time of the subscription's wake-up message if `expected` is still the one stored
   * (undefined: none is, or the stored one is overdue by a minute, so it was lost); true for
   * the one caller that set it, who then sends the message.
   */
  async scheduleWake(projectId: string, subscriptionId: string, expected: number | undefined, at: number, now: number): Promise<boolean> {
    const Key = healthKey(projectId, subscriptionId);
    // Each schedule names itself (`wakeId`): a write whose answer was lost, retried by the SDK,
    // fails its own condition, and is read back rather than taken for a rival's. Read as lost,
    // no wake-up message was sent and a quiet subscription's parked deliveries waited for good.
    const wakeId = randomUUID();
    return writtenBy(
      this.client,
      this.tableName,
      Key,
      'wakeId',
      wakeId,
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key,
          UpdateExpression: 'SET #wake = :at, #wakeId = :wakeId',
          ConditionExpression:
            expected === undefined ? 'attribute_not_exists(#wake) OR #wake < :stale' : '#wake = :expected',
          ExpressionAttributeNames: { '#wake': 'wakeAt', '#wakeId': 'wakeId' },
          ExpressionAttributeValues:
            expected === undefined ? { ':at': at, ':wakeId': wakeId, ':stale': now - 60_000 } : { ':at': at, ':wakeId': wakeId, ':expected': expected },
        }),
      ),
    );
  }

  /** Clears the wake-up time if it is still `expected`: no wake-up is due any more. */
  async clearWake(projectId: string, subscriptionId: string, expected: number): Promise<void> {
    await conditionally(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: healthKey(projectId, subscriptionId),
          UpdateExpression: 'REMOVE #wake',
          ConditionExpression: '#wake = :expected',
          ExpressionAttributeNames: { '#wake': 'wakeAt' },
          ExpressionAttributeValues: { ':expected': expected },
        }),
      ),
    );
  }

  /**
   * Sets the count to 0 when nothing is parked any more, whichever way it is off:
   * - above 0: parked items the table's TTL removed (held 14 days) were never counted off;
   * - below 0: two parks of one delivery at once (a copy SQS handed out), one of which failed to
   *   count it, counted it off without ever counting it. The price: a park that wrote its items
   *   and had not counted them yet when a release took them (-N) is set to 0 here, and then
   *   shows N held until its own wake-up finds the partition empty and settles it again.
   * The count is read before the partition and set only if still the one read, so a park that
   * lands meanwhile (it writes its items, then counts) is never counted away.
   */
  async settleCount(projectId: string, subscriptionId: string): Promise<void> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: healthKey(projectId, subscriptionId), ConsistentRead: true }));
    const seen = Number(Item?.heldCount ?? 0);
    if (seen === 0 || (await this.oldest(projectId, subscriptionId, 1)).keys.length > 0) return;
    await conditionally(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: healthKey(projectId, subscriptionId),
          UpdateExpression: 'SET #held = :zero',
          ConditionExpression: '#held = :seen',
          ExpressionAttributeNames: { '#held': 'heldCount' },
          ExpressionAttributeValues: { ':zero': 0, ':seen': seen },
        }),
      ),
    );
  }

  private async count(projectId: string, subscriptionId: string, delta: number): Promise<void> {
    if (delta === 0) return;
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: healthKey(projectId, subscriptionId),
        UpdateExpression: 'ADD #held :delta',
        ExpressionAttributeNames: { '#held': 'heldCount' },
        ExpressionAttributeValues: { ':delta': delta },
      }),
    );
  }
}

/** A parked delivery's sort key: oldest first when released (the time it was first published, then its id). */
function heldKey(message: ParsedDeliveryMessage): string {
  return `${message.publishedAt}#${message.webhookId}`;
}

/**
 * A handle of one park of an item: `<parkId>|<sort key>` (a park id is a UUID), or the sort key
 * alone for an item parked before park ids.
 */
function toHandle({ sortKey, parkId }: { sortKey: string; parkId?: string }): string {
  return parkId === undefined ? sortKey : `${parkId}|${sortKey}`;
}

const HANDLE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\|(.*)$/s;

function fromHandle(handle: string): { sortKey: string; parkId?: string } {
  const match = HANDLE.exec(handle);
  return match ? { parkId: match[1]!, sortKey: match[2]! } : { sortKey: handle };
}
