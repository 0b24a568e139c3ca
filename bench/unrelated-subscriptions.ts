/**
 * Fills the table with subscriptions the benchmark's events must not reach: other topics of
 * the benchmark's project (refinements included) and every topic of other projects. They are
 * written straight to DynamoDB in batches, item for item as `SubscriptionStore.create` leaves
 * them — subscription, uniqueness guard, per-project counter — so the fan-out's guard query
 * sees a table like one built through the API, only faster.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, BatchWriteCommandOutput, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { API, TABLE_KEYS } from '../lambdas/core/settings';
import { EVENT_CATALOG, OPERATOR_SELECT_EVENT } from '../lambdas/core/event-catalog';
import { Subscription, newSigningSecret, newSubscriptionId } from '../lambdas/core/subscription';

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;
const WRITES_IN_FLIGHT = 4;

/** What a stored subscription looks like, for the check that the synthetic ones match it. */
export interface ReferenceSubscription {
  projectId: string;
  subscriptionId: string;
}

/**
 * Writes `count` subscriptions unrelated to (`projectId`, `topic`): enough of the project's
 * other topics to fill it to its limit, the rest spread over other projects (at most the
 * limit each), every topic in turn, `topic` included. Throws if their items do not have the
 * attributes of `reference`, a subscription created through the API.
 */
export async function insertUnrelatedSubscriptions(
  endpoint: string,
  tableName: string,
  projectId: string,
  topic: string,
  count: number,
  reference: ReferenceSubscription,
): Promise<void> {
  // Loaded here: the store's module creates SDK clients that must see the local stack's settings.
  const { subscriptionKeys } = await import('../lambdas/adapters/subscription-store');
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint }), { marshallOptions: { removeUndefinedValues: true } });
  const published = EVENT_CATALOG.map((entry) => entry.event as string).filter((event) => event !== OPERATOR_SELECT_EVENT);
  const otherTopics = [...published.filter((event) => event !== topic), `${topic}.request.channel.whatsapp`, 'event.emit.order_paid'];

  const { Item: stored } = await client.send(
    new GetCommand({ TableName: tableName, Key: { [PK]: subscriptionKeys.project(reference.projectId), [SK]: subscriptionKeys.subscription(reference.subscriptionId) }, ConsistentRead: true }),
  );
  if (!stored) throw new Error('the reference subscription is missing');
  const ownCount = Number(
    (await client.send(new GetCommand({ TableName: tableName, Key: { [PK]: subscriptionKeys.project(projectId), [SK]: subscriptionKeys.counter } }))).Item
      ?.subscriptionCount ?? 0,
  );

  const owners: { projectId: string; topics: string[] }[] = [];
  const ownExtra = Math.min(count, API.subscriptionLimitPerProject - ownCount);
  for (let n = 0; n < ownExtra; n++) owners.push({ projectId, topics: otherTopics });
  for (let n = 0; owners.length < count; n++) {
    owners.push({ projectId: `other-${String(n % Math.ceil((count - ownExtra) / API.subscriptionLimitPerProject)).padStart(3, '0')}`, topics: published });
  }

  const items: Record<string, unknown>[] = [];
  const counts = new Map<string, number>([[projectId, ownCount]]);
  const now = new Date().toISOString();
  owners.forEach((owner, n) => {
    const nth = counts.get(owner.projectId) ?? 0;
    counts.set(owner.projectId, nth + 1);
    const subscription: Subscription = {
      _id: newSubscriptionId(),
      id_project: owner.projectId,
      event: owner.topics[nth % owner.topics.length]!,
      target: `https://hooks.tenant-${owner.projectId}.example.com/tiledesk/${n}`,
      createdBy: 'bench',
      createdAt: now,
      updatedAt: now,
      status: 'active',
      secret: newSigningSecret(),
      // The store's bookkeeping, as SubscriptionStore writes it.
      guardClaimId: randomUUID(),
      writeId: randomUUID(),
    };
    items.push(
      {
        [PK]: subscriptionKeys.project(subscription.id_project),
        [SK]: subscriptionKeys.subscription(subscription._id),
        ...subscription,
      },
      {
        [PK]: subscriptionKeys.project(subscription.id_project),
        [SK]: subscriptionKeys.guard(subscription.event, subscription.target),
        subscriptionId: subscription._id,
        claimedAt: Date.now(),
        claimId: subscription.guardClaimId,
      },
    );
  });
  const shape = (item: Record<string, unknown>): string => Object.keys(item).sort().join(',');
  if (items[0] && shape(items[0]) !== shape(stored)) {
    throw new Error(`synthetic subscriptions (${shape(items[0])}) no longer match stored ones (${shape(stored)})`);
  }
  for (const [owner, subscriptionCount] of counts) {
    items.push({ [PK]: subscriptionKeys.project(owner), [SK]: subscriptionKeys.counter, subscriptionCount });
  }

  let next = 0;
  await Promise.all(
    Array.from({ length: WRITES_IN_FLIGHT }, async () => {
      while (next < items.length) {
        const start = next;
        next += 25;
        let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
        while (requests.length > 0) {
          const result: BatchWriteCommandOutput = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
          requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
        }
      }
    }),
  );
}
