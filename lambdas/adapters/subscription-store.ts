import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { API, DELIVERY, TABLE_KEYS } from '../core/settings';
import { topicFamily } from '../core/event-catalog';
import { ConflictError } from '../core/errors';
import { Subscription } from '../core/subscription';
import { conditionalWrite, conditionally, dynamoDocumentClient, isExpired, isRefusalOnRetry, putIfAbsent, queryAll, readAttribute } from './aws-clients';
import { logger } from './observability';
import { SubscriptionGuards, guardKey, projectKey } from './subscription-guards';

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

/** Tries of a subscription count change before the request answers 409 (one per concurrent change of the project). */
const COUNT_CHANGE_ROUNDS = 20;

/** A deletion claim older than this was left by a crash: longer than any function that deletes runs (60 s at most). */
const DELETE_CLAIM_STALE_MS = 120_000;
/**
 * Webhook ids a dead streak keeps at most, so a delivery dying twice counts once (`countDead`):
 * all of a streak's up to the auto-disable limit (5 by default), the first 100 of a longer one.
 */
const DEAD_IDS_KEPT = 100;

/** Where one subscription lives. */
export interface SubscriptionKey {
  projectId: string;
  subscriptionId: string;
}

/** The DynamoDB items behind subscriptions (DESIGN: one table, keys in `lambdas/core/settings.ts`). */
export const subscriptionKeys = {
  project: projectKey,
  subscription: (subscriptionId: string) => `SUB#${subscriptionId}`,
  counter: 'COUNT',
  /** The uniqueness guard of a subscription ({@link guardKey}). */
  guard: guardKey,
};

/**
 * Subscriptions in DynamoDB. DynamoDB Local emulators have no transactions, so creation is a
 * sequence of conditional writes — guard, counter, item — each undone if a later one fails.
 * A guard left behind by a crash is taken over once its subscription has been missing for a
 * minute; a younger guard belongs to a create still in flight, whose subscription its rival
 * waits for briefly (and answers with when it is the same event and target), else 409.
 */
export class SubscriptionStore {
  constructor(
    private readonly tableName: string,
    private readonly client = dynamoDocumentClient,
    /** How long a deleted subscription's attempt logs live: its marker for the project history lives as long. */
    private readonly logRetentionDays: number = DELIVERY.attemptLogTtlDays,
  ) {
    this.guards = new SubscriptionGuards(tableName, client, (projectId, subscriptionId) => this.get(projectId, subscriptionId));
  }

  private readonly guards: SubscriptionGuards;

  /**
   * The subscriptions whose attempt logs a project's history reads: its subscriptions, and the
   * most recently deleted of those whose logs still live (a marker each, written by
   * {@link delete}), at most {@link API.deletedSubscriptionsInHistory} of them: each is 8
   * partitions a history page queries, so create-and-delete cycles must not grow that without end.
   */
  async logOwners(projectId: string): Promise<string[]> {
    const [live, deleted] = await Promise.all([this.idsWithPrefix(projectId, 'SUB#'), this.deletedMarkers(projectId)]);
    const idOf = (item: Record<string, unknown>) => String(item[SK]).slice(String(item[SK]).indexOf('#') + 1);
    return [...live.map(idOf), ...deleted.slice(0, API.deletedSubscriptionsInHistory).map(idOf)];
  }

  private idsWithPrefix(projectId: string, prefix: string, attributes: string[] = []): Promise<Record<string, unknown>[]> {
    return queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ProjectionExpression: ['#sk', ...attributes.map((_, index) => `#a${index}`)].join(', '),
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK, ...Object.fromEntries(attributes.map((name, index) => [`#a${index}`, name])) },
      ExpressionAttributeValues: { ':pk': subscriptionKeys.project(projectId), ':prefix': prefix },
    });
  }

  /**
   * The deleted subscriptions' log markers, the most recently deleted first (by `deletedAt`, in
   * ms; markers written before it had only their TTL, in seconds, which orders them as well).
   */
  private async deletedMarkers(projectId: string): Promise<Record<string, unknown>[]> {
    const markers = await this.idsWithPrefix(projectId, 'LOGGED#', ['deletedAt', TABLE_KEYS.ttlAttribute]);
    const deletedAt = (marker: Record<string, unknown>) =>
      Number(marker.deletedAt ?? (Number(marker[TABLE_KEYS.ttlAttribute] ?? 0) - this.logRetentionDays * 86_400) * 1000);
    // A marker past its TTL stands for logs past theirs: left out, deleted by DynamoDB or not.
    return markers.filter((marker) => !isExpired(marker)).sort((a, b) => deletedAt(b) - deletedAt(a));
  }

  /**
   * Stores a new subscription; DuplicateSubscriptionError (carrying the existing one) for the
   * same event and target again, ConflictError for a second operator.select or a full project.
   */
  async create(subscription: Subscription, limit: number): Promise<Subscription> {
    const { id_project: projectId, _id: subscriptionId } = subscription;
    const guardClaimId = await this.guards.claim(projectId, subscription.event, subscription.target, subscriptionId);
    const stored: Subscription = { ...subscription, guardClaimId, writeId: randomUUID() };
    try {
      await this.incrementCount(projectId, limit);
    } catch (error) {
      await this.guards.release(projectId, subscription.event, subscription.target, subscriptionId);
      throw error;
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.toItem(stored),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
    } catch (error) {
      // Stored after all: the answer was lost and the SDK's retry found the item it had written.
      // Undoing it would leave a subscription without its guard, which the fan-out never sees.
      if (await this.storedBy(stored, error)) return stored;
      await this.decrementCount(projectId);
      await this.guards.release(projectId, subscription.event, subscription.target, subscriptionId);
      throw error;
    }
    return stored;
  }

  /**
   * Whether a conditional write that failed with `error` had in fact stored `written`: its answer
   * was lost (a timeout, a 500 after the write) and the SDK's automatic retry of the same request
   * then found its own item and failed the condition. The item's `writeId` tells.
   */
  private async storedBy(written: Subscription, error: unknown): Promise<boolean> {
    // A refusal at the first try is a rival's write: nothing to read back.
    if (!isRefusalOnRetry(error) || written.writeId === undefined) return false;
    return (await readAttribute(this.client, this.tableName, this.key(written.id_project, written._id), 'writeId')) === written.writeId;
  }

  /** Every subscription of a project, secrets included (callers strip them). */
  async list(projectId: string): Promise<Subscription[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': subscriptionKeys.project(projectId), ':prefix': 'SUB#' },
    });
    return items.map(subscriptionFromItem).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One subscription, only if it belongs to this project. */
  async get(projectId: string, subscriptionId: string): Promise<Subscription | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: this.key(projectId, subscriptionId),
        ConsistentRead: true,
      }),
    );
    return Item ? subscriptionFromItem(Item) : undefined;
  }

  /**
   * The ids of a project's subscriptions to one topic, read from their uniqueness guards (one
   * per subscription, in the project's partition, `UNIQUE#{topic}#…`) with a strongly
   * consistent query: a subscription whose create has answered gets the events published after
   * it. (A global secondary index, read until 2026-12-05, is only eventually consistent: an
   * event published right after a create could miss it on AWS, while the local emulator's
   * index never lagged.) Disabled ones are included: their deliveries are recorded as skipped
   * so they can be recovered. A guard being moved by an update can name a subscription twice
   * for a moment; it is listed once. Read as its family's ({@link findByTopicFamily}):
   * operator.select's is its single guard.
   */
  async findByTopic(projectId: string, topic: string): Promise<string[]> {
    return (await this.findByTopicFamily(projectId, topicFamily(topic))).get(topic) ?? [];
  }

  /** The ids of a project's subscriptions to every topic of a family, by topic ({@link SubscriptionGuards.findByTopicFamily}). */
  findByTopicFamily(projectId: string, family: string): Promise<Map<string, string[]>> {
    return this.guards.findByTopicFamily(projectId, family);
  }

  /**
   * Replaces a stored subscription with its changed version. When event or target change, the
   * new uniqueness guard is claimed first and the old one released after.
   */
  async replace(previous: Subscription, next: Subscription): Promise<void> {
    const projectId = previous.id_project;
    const guardChanged =
      subscriptionKeys.guard(previous.event, previous.target) !== subscriptionKeys.guard(next.event, next.target);
    const claim = guardChanged ? await this.guards.claim(projectId, next.event, next.target, next._id) : undefined;
    // Never a deletion claim read with `previous`: a DELETE in flight then finds its claim gone and claims again.
    const { deleteId: _deleteId, deleteClaimedAt: _deleteClaimedAt, ...unclaimed } = next;
    const written: Subscription = { ...unclaimed, ...(claim === undefined ? {} : { guardClaimId: claim }), writeId: randomUUID() };
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.toItem(written),
          ConditionExpression: 'attribute_exists(#pk) AND #updatedAt = :previousUpdatedAt',
          ExpressionAttributeNames: { '#pk': PK, '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':previousUpdatedAt': previous.updatedAt },
        }),
      );
    } catch (error) {
      // Applied after all (a lost answer retried by the SDK): answered as applied, not 409.
      if (await this.storedBy(written, error)) return this.releaseMovedGuard(previous, guardChanged);
      if (claim !== undefined) await this.guards.releaseLostClaim(next, claim);
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConflictError('the subscription changed meanwhile; read it again and retry');
      }
      throw error;
    }
    await this.releaseMovedGuard(previous, guardChanged);
  }

  /**
   * After a replace that moved the subscription to another (event, target): its old guard, only
   * the claim the previous version stored. A request that has moved the subscription back to that
   * pair meanwhile re-claimed it, and its claim stays (a review found two PUTs there and back
   * could leave the subscription unguarded: the fan-out never saw it again).
   */
  private async releaseMovedGuard(previous: Subscription, guardChanged: boolean): Promise<void> {
    if (guardChanged) await this.guards.release(previous.id_project, previous.event, previous.target, previous._id, previous.guardClaimId);
  }

  /**
   * Deletes a subscription and its guard; returns what was deleted, if anything (nothing when it
   * is not there, or another request is deleting it). Taken in two writes so that exactly one
   * request, and only it, knows it removed the item, even when DynamoDB's answer is lost: the
   * request first claims the deletion on the item (`deleteId`), then deletes the item on
   * condition that it still carries that claim. Only the claim's holder can remove it, so a
   * condition that fails on an item no longer there was this request's own delete, applied with
   * its answer lost and retried by the SDK (before, that retry found nothing: the DELETE answered
   * 404, the subscription was never counted off and left the history).
   */
  async delete(projectId: string, subscriptionId: string): Promise<Subscription | undefined> {
    for (let round = 0; round < 3; round++) {
      const claim = await this.claimDeletion(projectId, subscriptionId);
      if (claim === 'absent') {
        // A delete that failed after removing the item lands here when retried: the guards it left
        // would list the id to the fan-out for good, so they are released now. The count is not
        // touched here: only the request that removed the item counts it off.
        await this.guards.releaseAllOf(projectId, subscriptionId);
        return undefined;
      }
      if (claim === 'claimed by another') return undefined;
      const removed = await conditionally(
        this.client.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: this.key(projectId, subscriptionId),
            ConditionExpression: '#d = :mine',
            ExpressionAttributeNames: { '#d': 'deleteId' },
            ExpressionAttributeValues: { ':mine': claim.deleteId },
          }),
        ),
      );
      // Still there without the claim: a PUT replaced the item meanwhile; claim it again.
      if (!removed && (await this.get(projectId, subscriptionId))) continue;
      await this.afterDelete(projectId, subscriptionId, claim.subscription);
      const { deleteId: _deleteId, deleteClaimedAt: _deleteClaimedAt, ...deleted } = claim.subscription;
      return deleted;
    }
    throw new ConflictError('the subscription changed meanwhile; retry the delete');
  }

  /**
   * Claims the deletion of a subscription: its item, with this claim on it; 'absent' when there is
   * none; 'claimed by another' while another request's claim is fresh. A claim older than any
   * function that deletes can run (the API's 10 s, the delivery's 60 s) was left by a crash, and
   * is taken over. A claim whose answer was lost is read back as this one's.
   */
  private async claimDeletion(projectId: string, subscriptionId: string): Promise<'absent' | 'claimed by another' | { subscription: Subscription; deleteId: string }> {
    const deleteId = randomUUID();
    const now = Date.now();
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(projectId, subscriptionId),
          UpdateExpression: 'SET #d = :mine, #at = :now',
          ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#d) OR #at < :stale)',
          ExpressionAttributeNames: { '#pk': PK, '#d': 'deleteId', '#at': 'deleteClaimedAt' },
          ExpressionAttributeValues: { ':mine': deleteId, ':now': now, ':stale': now - DELETE_CLAIM_STALE_MS },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { subscription: subscriptionFromItem(Attributes!), deleteId };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const stored = await this.get(projectId, subscriptionId);
    if (!stored) return 'absent';
    return stored.deleteId === deleteId ? { subscription: stored, deleteId } : 'claimed by another';
  }

  /** What follows the removal of a subscription's item, by the one request that removed it. */
  private async afterDelete(projectId: string, subscriptionId: string, deleted: Subscription): Promise<void> {
    // Counted off by the one request that removed the item, at once: a delete that fails later
    // leaves guards for its retry, never the count. Concurrent DELETEs each counted it off before
    // (a loop took a project to 1,005 subscriptions, a security probe), and a first fix keyed on
    // the history marker re-opened that once the marker was trimmed (a review). A crash between
    // the two writes leaves the count one too high, the safe way, and so does a count-off that
    // cannot get its turn: the rest of the delete (its marker, its guards) is done all the same.
    await this.decrementCount(projectId).catch((error: unknown) =>
      logger.warn('subscription not counted off: the count stays one too high', { projectId, subscriptionId, error: String(error) }),
    );
    await this.markDeleted(projectId, subscriptionId);
    await this.guards.release(projectId, deleted.event, deleted.target, subscriptionId);
    // And any older guard an update could not release (its subscription moved to another event or target).
    await this.guards.releaseAllOf(projectId, subscriptionId);
    // Last, and never failing the delete: the next delete trims what this one could not.
    await this.trimDeletedMarkers(projectId).catch((error: unknown) =>
      logger.warn('deleted-subscription markers not trimmed; the next delete will', { projectId, error: String(error) }),
    );
  }

  /** The deleted subscription's marker: it keeps its logs in the project's history as long as they live (their TTL). */
  private async markDeleted(projectId: string, subscriptionId: string): Promise<void> {
    await putIfAbsent(this.client, this.tableName, {
      [PK]: subscriptionKeys.project(projectId),
      [SK]: `LOGGED#${subscriptionId}`,
      [TABLE_KEYS.ttlAttribute]: Math.floor(Date.now() / 1000) + this.logRetentionDays * 86_400,
      deletedAt: Date.now(),
    });
  }

  /**
   * Keeps the project's deleted-subscription markers to {@link API.deletedSubscriptionsInHistory}:
   * the oldest beyond it are deleted, and their logs leave the project history (they still
   * expire with their TTL). One small Query per delete; a marker at a time in steady state.
   */
  private async trimDeletedMarkers(projectId: string): Promise<void> {
    const beyond = (await this.deletedMarkers(projectId)).slice(API.deletedSubscriptionsInHistory);
    for (const marker of beyond) {
      await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { [PK]: subscriptionKeys.project(projectId), [SK]: marker[SK] } }));
    }
  }

  private key(projectId: string, subscriptionId: string): Record<string, string> {
    return subscriptionItemKey(projectId, subscriptionId);
  }

  /**
   * Counts a dead-lettered delivery; once `limit` are dead in a row the subscription is
   * disabled with `reason`. Returns true when this call disabled it.
   */
  async recordDeadDelivery(projectId: string, subscriptionId: string, webhookId: string, limit: number, reason: string): Promise<boolean> {
    const count = await this.countDead(projectId, subscriptionId, webhookId, Math.min(limit, DEAD_IDS_KEPT));
    if (count === undefined || count.value < limit || count.status !== 'active') return false;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(projectId, subscriptionId),
          UpdateExpression: 'SET #status = :disabled, #reason = :reason, #updatedAt = :now',
          ConditionExpression: '#status = :active',
          ExpressionAttributeNames: { '#status': 'status', '#reason': 'disabledReason', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: {
            ':disabled': 'disabled',
            ':active': 'active',
            ':reason': reason,
            ':now': new Date().toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Counts a dead delivery towards the streak once per webhook id: SQS can hand a delivery out
   * twice, and both copies can die. The streak's first `kept` ids are kept on the item (a string
   * set, so adding one twice is one); past them the count goes on without ids. An id
   * already there (a copy, or the SDK's retry of this very write) leaves the count as it is.
   * Undefined when the subscription is gone.
   */
  private async countDead(projectId: string, subscriptionId: string, webhookId: string, kept: number): Promise<{ value: number; status: unknown } | undefined> {
    const names = { '#dead': 'consecutiveDeadCount', '#ids': 'deadWebhookIds', '#pk': PK };
    const read = (item: Record<string, unknown> | undefined) => item && { value: Number(item.consecutiveDeadCount ?? 0), status: item.status };
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(projectId, subscriptionId),
          UpdateExpression: 'ADD #dead :one, #ids :id',
          ConditionExpression: 'attribute_exists(#pk) AND NOT contains(#ids, :webhookId) AND (attribute_not_exists(#dead) OR #dead < :kept)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':one': 1, ':id': new Set([webhookId]), ':webhookId': webhookId, ':kept': kept },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return read(Attributes);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Rare (a copy, a long streak, a deleted subscription): read which.
      const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: this.key(projectId, subscriptionId), ConsistentRead: true }));
      if (!Item) return undefined;
      if ((Item.deadWebhookIds as Set<string> | undefined)?.has(webhookId)) return read(Item);
    }
    // A streak past the ids kept counts on without them.
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(projectId, subscriptionId),
          UpdateExpression: 'ADD #dead :one',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#dead': names['#dead'], '#pk': PK },
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return read(Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Clears the dead-delivery streak, and the webhook ids it counted, after a success. */
  async resetDeadDeliveries(projectId: string, subscriptionId: string): Promise<void> {
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(projectId, subscriptionId),
          UpdateExpression: 'SET #dead = :zero REMOVE #ids',
          ConditionExpression: '#dead > :zero',
          ExpressionAttributeNames: { '#dead': 'consecutiveDeadCount', '#ids': 'deadWebhookIds' },
          ExpressionAttributeValues: { ':zero': 0 },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  private toItem(subscription: Subscription): Record<string, unknown> {
    return { ...this.key(subscription.id_project, subscription._id), ...subscription };
  }

  private async incrementCount(projectId: string, limit: number): Promise<void> {
    if (!(await this.changeCount(projectId, 1, (count) => count < limit, false))) {
      throw new ConflictError(`this project has reached its limit of ${limit} subscriptions`);
    }
  }

  private async decrementCount(projectId: string): Promise<void> {
    await this.changeCount(projectId, -1, (count) => count > 0, true);
  }

  /**
   * Moves the project's subscription count by `delta` if `allowed` holds for it; whether it did.
   * A compare-and-set on the count just read (`ADD` is not idempotent: an SDK retry of an applied
   * write whose answer was lost would count twice), naming itself on the counter (`lastChange`)
   * so that a refusal on a retry can be read back as this change. When it cannot tell (a rival
   * changed the count between the lost answer and the retry), `ambiguousMeansDone` decides:
   * true for a count-off, false for a count-on, so a count that cannot be known is one too high
   * (a project refused one subscription early), never too low (a project past its limit).
   */
  private async changeCount(projectId: string, delta: number, allowed: (count: number) => boolean, ambiguousMeansDone: boolean): Promise<boolean> {
    const Key = { [PK]: subscriptionKeys.project(projectId), [SK]: subscriptionKeys.counter };
    const read = async () => (await this.client.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }))).Item;
    for (let round = 0; round < COUNT_CHANGE_ROUNDS; round++) {
      // Concurrent creates and deletes of one project take turns: a short, growing, jittered pause.
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(400, 10 * 2 ** round)));
      const counter = await read();
      const count = counter?.subscriptionCount === undefined ? undefined : Number(counter.subscriptionCount);
      if (!allowed(count ?? 0)) return false;
      const changeId = randomUUID();
      // On the count and on the last change read: a count back at the same value after a rival's
      // change (ours applied with its answer lost, then theirs) would let a retry apply twice.
      const previousChange = counter?.lastChange;
      const outcome = await conditionalWrite(
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: 'SET #n = :next, #last = :change',
            ConditionExpression: [
              count === undefined ? 'attribute_not_exists(#n)' : '#n = :count',
              previousChange === undefined ? 'attribute_not_exists(#last)' : '#last = :previous',
            ].join(' AND '),
            ExpressionAttributeNames: { '#n': 'subscriptionCount', '#last': 'lastChange' },
            ExpressionAttributeValues: {
              ':next': (count ?? 0) + delta,
              ':change': changeId,
              ...(count === undefined ? {} : { ':count': count }),
              ...(previousChange === undefined ? {} : { ':previous': previousChange }),
            },
          }),
        ),
      );
      if (outcome === 'written') return true;
      if (outcome === 'refused on a retry') {
        if ((await readAttribute(this.client, this.tableName, Key, 'lastChange')) === changeId) return true;
        if (ambiguousMeansDone) return true;
      }
    }
    throw new ConflictError("the project's subscriptions changed meanwhile; retry");
  }
}

/** The table's keys, and the unused topic index's of items written before 2026-12-05. */
const STORE_ONLY_ATTRIBUTES = new Set<string>([PK, SK, TABLE_KEYS.legacyTopicIndex.partitionKey, TABLE_KEYS.legacyTopicIndex.sortKey]);

/** The table key of a subscription's item. */
export function subscriptionItemKey(projectId: string, subscriptionId: string): Record<string, string> {
  return { [PK]: subscriptionKeys.project(projectId), [SK]: subscriptionKeys.subscription(subscriptionId) };
}

/** A subscription as stored, without the table's own key attributes. */
export function subscriptionFromItem(item: Record<string, unknown>): Subscription {
  return Object.fromEntries(
    Object.entries(item).filter(([name]) => !STORE_ONLY_ATTRIBUTES.has(name)),
  ) as unknown as Subscription;
}
