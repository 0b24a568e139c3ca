import { createHash, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../core/settings';
import { OPERATOR_SELECT_EVENT } from '../core/event-catalog';
import { ConflictError, DuplicateSubscriptionError } from '../core/errors';
import { Subscription } from '../core/subscription';
import { conditionally, queryAll } from './aws-clients';

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

/** How old a guard without its subscription must be before it counts as abandoned. */
const ABANDONED_GUARD_MS = 60_000;

/** Every guard's sort key starts with it: `UNIQUE#{event}#{sha256 of target}` (no event name holds `#`). */
export const GUARD_PREFIX = 'UNIQUE#';

/**
 * The sort key of a subscription's uniqueness guard: one per (event, target) in a project, and a
 * single one for operator.select whatever its target, so a conditional put enforces both rules.
 */
export function guardKey(event: string, target: string): string {
  return event === OPERATOR_SELECT_EVENT
    ? `${GUARD_PREFIX}${OPERATOR_SELECT_EVENT}`
    : `${GUARD_PREFIX}${event}#${createHash('sha256').update(target).digest('base64url')}`;
}

/** The partition of a project's subscriptions, their guards, counter and health. */
export const projectKey = (projectId: string): string => `PROJECT#${projectId}`;

/**
 * The uniqueness guards of a project's subscriptions (`PROJECT#{p}` / `UNIQUE#…`, naming their
 * subscription): what makes (event, target) unique without transactions, and what the fan-out
 * reads to find a topic's subscribers. Each guard carries the id of the claim that wrote it
 * (`claimId`), and a subscription item the claim it holds (`guardClaimId`), so undoing or moving
 * away releases only that claim, never a newer one (docs/design.md §4, "One table").
 */
export class SubscriptionGuards {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient,
    /** The subscription as stored now (a strongly consistent read). */
    private readonly readSubscription: (projectId: string, subscriptionId: string) => Promise<Subscription | undefined>,
  ) {}

  /**
   * The ids of a project's subscriptions to every topic of a family (a catalog event and the
   * topics that extend it, `topicFamily`), by topic: one strongly consistent Query of the guards
   * starting `UNIQUE#{family}`, as the store's `findByTopic` reads one topic's. A fan-out batch whose
   * events select several refinements (channels) then costs one read per project and family.
   */
  async findByTopicFamily(projectId: string, family: string): Promise<Map<string, string[]>> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK, '#id': 'subscriptionId' },
      ExpressionAttributeValues: { ':pk': projectKey(projectId), ':sk': `${GUARD_PREFIX}${family}` },
      ProjectionExpression: '#sk, #id',
      ConsistentRead: true,
    });
    const byTopic = new Map<string, Set<string>>();
    for (const item of items) {
      const sk = String(item[SK]);
      const id = item.subscriptionId;
      // `UNIQUE#{topic}#{hash of target}`; the hash (base64url) holds no '#'. operator.select's single guard has none.
      const topic = sk === guardKey(OPERATOR_SELECT_EVENT, '') ? OPERATOR_SELECT_EVENT : sk.slice(GUARD_PREFIX.length, sk.lastIndexOf('#'));
      if (typeof id !== 'string' || (topic !== family && !topic.startsWith(`${family}.`))) continue;
      byTopic.set(topic, (byTopic.get(topic) ?? new Set()).add(id));
    }
    return new Map([...byTopic].map(([topic, ids]) => [topic, [...ids]]));
  }

  /**
   * Claims the (event, target) guard for `subscriptionId`; returns this claim's id, written on
   * the guard, so that undoing the claim removes only this claim ({@link releaseLostClaim}).
   */
  async claim(projectId: string, event: string, target: string, subscriptionId: string): Promise<string> {
    const Key = { [PK]: projectKey(projectId), [SK]: guardKey(event, target) };
    const claimId = randomUUID();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...Key, subscriptionId, claimedAt: Date.now(), claimId },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
      return claimId;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }));
    const holder = Item?.subscriptionId as string | undefined;
    const claimedAt = Number(Item?.claimedAt ?? 0);
    const inFlight = Date.now() - claimedAt < ABANDONED_GUARD_MS;
    let existing = holder && holder !== subscriptionId ? await this.readSubscription(projectId, holder) : undefined;
    // A rival create may hold the guard without having written its item yet (a few writes
    // apart): wait for it briefly, so two racing identical creates both get the subscription.
    for (let waitMs = 25; holder && holder !== subscriptionId && inFlight && !existing && waitMs <= 400; waitMs *= 2) {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      existing = await this.readSubscription(projectId, holder);
    }
    // A holder that has moved to another event or target since (its update failed before
    // releasing this guard) holds it no more: taken over, not a 409 for good.
    if (existing && guardKey(existing.event, existing.target) !== Key[SK]) existing = undefined;
    // The same event and target again; for operator.select, whose guard ignores the target,
    // only when the target is the same too (another one is a second hook: 409).
    if (existing && existing.target === target) throw new DuplicateSubscriptionError(existing);
    if (holder && holder !== subscriptionId && (inFlight || existing)) {
      throw new ConflictError(
        event === OPERATOR_SELECT_EVENT
          ? 'this project already has an operator.select subscription'
          : 'a subscription to this event and target already exists in this project',
      );
    }
    await this.takeOverGuard(Key, holder, subscriptionId, event, claimId);
    return claimId;
  }

  /**
   * Undoes a claim whose subscription write lost to a concurrent one. If the winner stored this
   * very event and target (the same PUT sent twice: both claimed the guard, the holder being the
   * subscription itself), the guard is the winner's too and stays; otherwise it goes, unless
   * another request claimed it since. Releasing it unconditionally left a subscription that the
   * fan-out, which finds subscribers by their guards, never saw again (a security probe).
   */
  async releaseLostClaim(next: Subscription, claimId: string): Promise<void> {
    const stored = await this.readSubscription(next.id_project, next._id);
    const guard = guardKey(next.event, next.target);
    if (stored && guardKey(stored.event, stored.target) === guard) {
      // The winner's claim is the one its item names: put it back on the guard if ours overwrote it.
      if (stored.guardClaimId !== undefined && stored.guardClaimId !== claimId) await this.restoreClaim(next, claimId, stored.guardClaimId);
      return;
    }
    await this.release(next.id_project, next.event, next.target, next._id, claimId);
  }

  /** Sets the guard's claim back to `theirs` if it still carries `mine`. */
  private async restoreClaim(next: Subscription, mine: string, theirs: string): Promise<void> {
    await conditionally(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: projectKey(next.id_project), [SK]: guardKey(next.event, next.target) },
          UpdateExpression: 'SET claimId = :theirs',
          ConditionExpression: 'subscriptionId = :id AND claimId = :mine',
          ExpressionAttributeValues: { ':id': next._id, ':mine': mine, ':theirs': theirs },
        }),
      ),
    );
  }

  /** Takes over a guard whose subscription no longer exists (left by an interrupted write). */
  private async takeOverGuard(
    Key: Record<string, string>,
    holder: string | undefined,
    subscriptionId: string,
    event: string,
    claimId: string,
  ): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...Key, subscriptionId, claimedAt: Date.now(), claimId },
          ConditionExpression: holder ? 'subscriptionId = :holder' : 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: holder ? undefined : { '#pk': PK },
          ExpressionAttributeValues: holder ? { ':holder': holder } : undefined,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConflictError(`a concurrent request created the same ${event} subscription`);
      }
      throw error;
    }
  }

  /** Releases every guard of the project still naming `subscriptionId`; how many it released. */
  async releaseAllOf(projectId: string, subscriptionId: string): Promise<number> {
    const guards = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :guards)',
      FilterExpression: 'subscriptionId = :id',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': projectKey(projectId), ':guards': GUARD_PREFIX, ':id': subscriptionId },
      ProjectionExpression: '#sk',
      ConsistentRead: true,
    });
    let released = 0;
    for (const guard of guards) {
      try {
        await this.client.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { [PK]: projectKey(projectId), [SK]: guard[SK] },
            ConditionExpression: 'subscriptionId = :id',
            ExpressionAttributeValues: { ':id': subscriptionId },
          }),
        );
        released++;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return released;
  }

  /** Releases the guard if it still names `subscriptionId` (and, when given, still carries `claimId`). */
  async release(projectId: string, event: string, target: string, subscriptionId: string, claimId?: string): Promise<void> {
    await conditionally(
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: projectKey(projectId), [SK]: guardKey(event, target) },
          ConditionExpression: claimId === undefined ? 'subscriptionId = :id' : 'subscriptionId = :id AND claimId = :claim',
          ExpressionAttributeValues: claimId === undefined ? { ':id': subscriptionId } : { ':id': subscriptionId, ':claim': claimId },
        }),
      ),
    );
  }
}
