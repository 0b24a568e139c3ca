import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../core/settings';
import { ParsedDeliveryMessage, deliveryMessageSchema } from '../core/delivery-message';
import { stringifyJson } from '../core/json-text';
import { dynamoDocumentClient } from './aws-clients';
import { subscriptionKeys } from './subscription-store';

const { partitionKey: PK, sortKey: SK, ttlAttribute } = TABLE_KEYS;

/** A held delivery is kept this long at most (SQS's longest retention, what a queue would give). */
const HELD_TTL_SECONDS = 14 * 86_400;

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
    const keys = messages.map(heldKey);
    try {
      await this.writeAll(
        messages.map((message, index) => ({
          PutRequest: {
            Item: {
              [PK]: heldPartition(projectId, subscriptionId),
              [SK]: keys[index],
              message: stringifyJson({ ...message, notBefore: undefined }),
              [ttlAttribute]: expiresAt,
            },
          },
        })),
      );
      await this.count(projectId, subscriptionId, messages.length);
    } catch (error) {
      await this.writeAll(keys.map((key) => this.deleteRequest(projectId, subscriptionId, key))).catch(() => undefined);
      throw error;
    }
    return keys;
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
      keys.push(String(item[SK]));
      const parsed = deliveryMessageSchema.safeParse(JSON.parse(String(item.message)));
      if (parsed.success) messages.push(parsed.data);
    }
    return { keys, messages, more: LastEvaluatedKey !== undefined };
  }

  /** Forgets released deliveries (once they are back on a queue) and counts them off. */
  async remove(projectId: string, subscriptionId: string, keys: string[]): Promise<void> {
    await this.writeAll(keys.map((key) => this.deleteRequest(projectId, subscriptionId, key)));
    await this.count(projectId, subscriptionId, -keys.length);
  }

  private deleteRequest(projectId: string, subscriptionId: string, key: string): Record<string, unknown> {
    return { DeleteRequest: { Key: { [PK]: heldPartition(projectId, subscriptionId), [SK]: key } } };
  }

  /** BatchWriteItem, 25 requests at a time, sending back what DynamoDB left unprocessed. */
  private async writeAll(requests: Record<string, unknown>[]): Promise<void> {
    for (let start = 0; start < requests.length; start += 25) {
      let pending: Record<string, unknown>[] | undefined = requests.slice(start, start + 25);
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** round)));
        const result = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = result.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
      }
    }
  }

  /**
   * Sets the time of the subscription's wake-up message if `expected` is still the one stored
   * (undefined: none is, or the stored one is overdue by a minute, so it was lost); true for
   * the one caller that set it, who then sends the message.
   */
  async scheduleWake(projectId: string, subscriptionId: string, expected: number | undefined, at: number, now: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: healthKey(projectId, subscriptionId),
          UpdateExpression: 'SET #wake = :at',
          ConditionExpression:
            expected === undefined ? 'attribute_not_exists(#wake) OR #wake < :stale' : '#wake = :expected',
          ExpressionAttributeNames: { '#wake': 'wakeAt' },
          ExpressionAttributeValues: expected === undefined ? { ':at': at, ':stale': now - 60_000 } : { ':at': at, ':expected': expected },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Clears the wake-up time if it is still `expected`: no wake-up is due any more. */
  async clearWake(projectId: string, subscriptionId: string, expected: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: healthKey(projectId, subscriptionId),
          UpdateExpression: 'REMOVE #wake',
          ConditionExpression: '#wake = :expected',
          ExpressionAttributeNames: { '#wake': 'wakeAt' },
          ExpressionAttributeValues: { ':expected': expected },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
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
