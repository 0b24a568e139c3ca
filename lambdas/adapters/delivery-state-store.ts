import type { DeliveryState } from '../core/delivery-batch';
import { batchGetAll, dynamoDocumentClient } from './aws-clients';
import { healthItemSubscriptionId, healthKey, healthsOf } from './delivery-health-store';
import { SubscriptionKey, subscriptionFromItem, subscriptionItemKey } from './subscription-store';

/**
 * What a delivery batch reads before it posts: each subscription and its health item. Both live
 * in the project's partition of the one table, so one BatchGetItem (strongly consistent, up to
 * 50 subscriptions per request) reads them, where a read per kind cost a second request per batch.
 */
export async function readDeliveryState(tableName: string, keys: SubscriptionKey[], client = dynamoDocumentClient): Promise<DeliveryState> {
  const unique = [...new Map(keys.map((key) => [key.subscriptionId, key])).values()];
  const tableKeys = unique.flatMap(({ projectId, subscriptionId }) => [subscriptionItemKey(projectId, subscriptionId), healthKey(projectId, subscriptionId)]);
  const items = await batchGetAll(client, tableName, tableKeys, true);
  const subscriptions = items.filter((item) => healthItemSubscriptionId(item) === undefined).map(subscriptionFromItem);
  return { subscriptions: new Map(subscriptions.map((subscription) => [subscription._id, subscription])), healths: healthsOf(unique, items) };
}
