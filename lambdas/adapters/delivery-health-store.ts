import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../core/settings';
import { DeliveryHealth, HEALTHY, reserveRate } from '../core/delivery-health';
import { batchGetAll, dynamoDocumentClient, isExpired, putIfAbsent, writtenBy } from './aws-clients';
import { SubscriptionKey, subscriptionKeys } from './subscription-store';

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

const HEALTH_PREFIX = 'HEALTH#';

/** The health item of a subscription: beside it in the project's partition, its own item. */
export const healthKey = (projectId: string, subscriptionId: string): Record<string, string> => ({
  [PK]: subscriptionKeys.project(projectId),
  [SK]: `${HEALTH_PREFIX}${subscriptionId}`,
});

/** The subscription id of a health item, or undefined for any other item. */
export const healthItemSubscriptionId = (item: Record<string, unknown>): string | undefined => {
  const sortKey = String(item[SK]);
  return sortKey.startsWith(HEALTH_PREFIX) ? sortKey.slice(HEALTH_PREFIX.length) : undefined;
};

/** The health attributes written by `save` (the rate clock has its own conditional writes). */
const HEALTH_FIELDS = [
  'consecutiveFailures',
  'circuit',
  'openUntil',
  'cooldownSeconds',
  'probeUntil',
  'lane',
  'quickAnswers',
  'slowSpells',
  'fastSince',
  'lastSuccessAt',
  'lastFailureAt',
] as const;

/** Retries of an optimistic rate-clock update before the deliveries wait for a later try. */
const RATE_CLAIM_TRIES = 4;

/**
 * Delivery health in DynamoDB, one item per subscription. Every write is conditional on what
 * was read (a version for the health, the clock itself for the rate limit), so concurrent
 * delivery functions never lose each other's changes.
 */
export class DeliveryHealthStore {
  constructor(
    private readonly tableName: string,
    private readonly client = dynamoDocumentClient,
  ) {}

  /** The health of several subscriptions (healthy when never written), by subscription id. */
  async getMany(keys: SubscriptionKey[]): Promise<Map<string, DeliveryHealth>> {
    const unique = [...new Map(keys.map((key) => [key.subscriptionId, key])).values()];
    const items = await batchGetAll(
      this.client,
      this.tableName,
      unique.map((key) => healthKey(key.projectId, key.subscriptionId)),
      true,
    );
    return healthsOf(unique, items);
  }

  async get(projectId: string, subscriptionId: string): Promise<DeliveryHealth> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: healthKey(projectId, subscriptionId), ConsistentRead: true }),
    );
    return Item ? fromItem(Item) : { ...HEALTHY };
  }

  /** Writes a new health if nobody changed it since `before` was read; false if somebody did. */
  async save(projectId: string, subscriptionId: string, before: DeliveryHealth, after: DeliveryHealth): Promise<boolean> {
    // Each save names itself (`writeId`): one whose answer was lost, retried by the SDK, fails its
    // own version check, and is read back rather than taken for a rival's (its outcomes would be
    // folded again on the re-read health: a failure counted twice).
    const writeId = randomUUID();
    const names: Record<string, string> = { '#v': 'version', '#ttl': TABLE_KEYS.ttlAttribute, '#w': 'writeId' };
    const values: Record<string, unknown> = { ':next': before.version + 1, ':ttl': ttlOf(Date.now()), ':w': writeId };
    const sets = ['#v = :next', '#ttl = :ttl', '#w = :w'];
    const removes: string[] = [];
    for (const [index, field] of HEALTH_FIELDS.entries()) {
      names[`#f${index}`] = field;
      const value = after[field];
      if (value === undefined) {
        removes.push(`#f${index}`);
      } else {
        values[`:f${index}`] = value;
        sets.push(`#f${index} = :f${index}`);
      }
    }
    if (before.version > 0) values[':v'] = before.version;
    return writtenBy(
      this.client,
      this.tableName,
      healthKey(projectId, subscriptionId),
      'writeId',
      writeId,
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: healthKey(projectId, subscriptionId),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: before.version > 0 ? '#v = :v' : 'attribute_not_exists(#v)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * Claims the half-open circuit's single probe until `until`: true for exactly one caller
   * while the cool-down is over and no other probe holds it.
   */
  async claimProbe(projectId: string, subscriptionId: string, now: number, until: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: healthKey(projectId, subscriptionId),
          UpdateExpression: 'SET #probe = :until',
          ConditionExpression: '#circuit = :open AND #openUntil <= :now AND (attribute_not_exists(#probe) OR #probe < :now)',
          ExpressionAttributeNames: { '#probe': 'probeUntil', '#circuit': 'circuit', '#openUntil': 'openUntil' },
          ExpressionAttributeValues: { ':until': until, ':open': 'open', ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Takes a reserved rate slot for the one delivery about to use it: true for the first caller.
   * A delivery held for its slot carries it (`rateSlotAt`), and SQS can hand that message out
   * twice (at-least-once); the copy finds the slot taken and asks for a slot of its own, so the
   * receiver never gets two POSTs in one slot. One item per slot and delivery (its own partition,
   * so a fast limit spreads its writes), gone by TTL an hour later.
   */
  async claimRateSlot(projectId: string, subscriptionId: string, slotAt: number, webhookId: string): Promise<boolean> {
    return putIfAbsent(this.client, this.tableName, {
      // Slots are whole milliseconds, so above 1,000/s two deliveries can share one: the key names
      // the delivery too, and only its copy (same webhook id, same slot) finds it taken.
      [PK]: `RATESLOT#${projectId}#${subscriptionId}#${slotAt}#${webhookId}`,
      [SK]: 'slot',
      [TABLE_KEYS.ttlAttribute]: Math.floor(slotAt / 1000) + 3600,
    });
  }

  /**
   * Reserves a slot for each of `wanted` deliveries under a rate limit (GCRA, see `reserveRate`):
   * moves the subscription's clock past all of them with a write conditional on the clock read,
   * re-reading on a race. Returns each delivery's slot (epoch ms; now for those that go at once),
   * or undefined when every try lost a race (the deliveries then wait a little and ask again).
   */
  async reserve(
    projectId: string,
    subscriptionId: string,
    rate: number,
    wanted: number,
    knownTat: number | undefined,
    toleranceMs: number,
  ): Promise<number[] | undefined> {
    let tat = knownTat;
    for (let round = 0; round < RATE_CLAIM_TRIES; round++) {
      const reservation = reserveRate(tat, rate, wanted, Date.now(), toleranceMs);
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: healthKey(projectId, subscriptionId),
            // The TTL too: an item whose clock is in use does not expire under it.
            UpdateExpression: 'SET #tat = :next, #ttl = :ttl',
            ConditionExpression: tat === undefined ? 'attribute_not_exists(#tat)' : '#tat = :previous',
            ExpressionAttributeNames: { '#tat': 'rateTat', '#ttl': TABLE_KEYS.ttlAttribute },
            ExpressionAttributeValues: {
              ':next': reservation.tat,
              ':ttl': ttlOf(Date.now()),
              ...(tat === undefined ? {} : { ':previous': tat }),
            },
          }),
        );
        return reservation.slots;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      tat = (await this.get(projectId, subscriptionId)).rateTat;
    }
    return undefined;
  }

  /** Forgets a subscription's health (circuit closed, fast lane, no failures), when it is deleted. */
  async reset(projectId: string, subscriptionId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: healthKey(projectId, subscriptionId) }));
  }

  /**
   * Resets a subscription's health but keeps the count of its parked deliveries, and takes the
   * wake-up over: returns its new time (`now`), for the caller to send the wake-up that
   * releases them at once.
   */
  async resetReleasingHeld(projectId: string, subscriptionId: string, now: number): Promise<number> {
    const fields = [...HEALTH_FIELDS, 'version', 'rateTat'];
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: healthKey(projectId, subscriptionId),
        UpdateExpression: `SET #wake = :now, #ttl = :ttl REMOVE ${fields.map((_, index) => `#r${index}`).join(', ')}`,
        ExpressionAttributeNames: {
          '#wake': 'wakeAt',
          '#ttl': TABLE_KEYS.ttlAttribute,
          ...Object.fromEntries(fields.map((field, index) => [`#r${index}`, field])),
        },
        ExpressionAttributeValues: { ':now': now, ':ttl': ttlOf(now) },
      }),
    );
    return now;
  }
}

/** Health items expire a while after their last change: a quiet subscription is healthy again. */
const HEALTH_TTL_SECONDS = 30 * 86_400;
const ttlOf = (now: number): number => Math.floor(now / 1000) + HEALTH_TTL_SECONDS;

/** The health of each of `keys` among `items` (healthy when it has no item). */
export function healthsOf(keys: SubscriptionKey[], items: Record<string, unknown>[]): Map<string, DeliveryHealth> {
  const found = new Map<string, DeliveryHealth>();
  for (const item of items) {
    const subscriptionId = healthItemSubscriptionId(item);
    if (subscriptionId !== undefined) found.set(subscriptionId, fromItem(item));
  }
  return new Map(keys.map((key) => [key.subscriptionId, found.get(key.subscriptionId) ?? { ...HEALTHY }]));
}

function fromItem(item: Record<string, unknown>): DeliveryHealth {
  const health: DeliveryHealth = { ...HEALTHY, version: Number(item.version ?? 0) };
  // Past its TTL (30 quiet days) the breaker and lane are healthy again, whether or not DynamoDB
  // has deleted the item yet: expired items stay readable until it does, within about two days.
  // The version is kept, so the next save's condition still holds, and it writes every one of
  // these fields. The rate clock, parked count and wake-up time are read as stored: their own
  // conditional writes compare against the stored values (a clock read as absent could never be
  // moved again: every delivery held until DynamoDB deleted the item), and an old clock is in
  // the past anyway.
  if (!isExpired(item)) {
    for (const field of HEALTH_FIELDS) {
      if (item[field] !== undefined) (health as unknown as Record<string, unknown>)[field] = item[field];
    }
  }
  if (item.rateTat !== undefined) health.rateTat = Number(item.rateTat);
  if (item.heldCount !== undefined) health.heldCount = Number(item.heldCount);
  if (item.wakeAt !== undefined) health.wakeAt = Number(item.wakeAt);
  return health;
}
