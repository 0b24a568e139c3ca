// Parked deliveries against dynalite: a release removes only the park of an item it read, so a
// delivery parked again under the same key (its circuit reopened) before the release's delete
// stays parked; and a handle removed twice (a duplicate wake-up) counts off once.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ParsedDeliveryMessage } from '../../lambdas/core/delivery-message';
import { TestStack, startTestStack } from '../support/local-stack-harness';

let t: TestStack;
let store: import('../../lambdas/adapters/held-delivery-store').HeldDeliveryStore;
let client: import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient;

beforeAll(async () => {
  t = await startTestStack();
  // Loaded once the stack has set the endpoint, as a function's module would be.
  const { HeldDeliveryStore } = await import('../../lambdas/adapters/held-delivery-store');
  client = (await import('../../lambdas/adapters/aws-clients')).dynamoDocumentClient;
  store = new HeldDeliveryStore(t.stack.tableName);
});
afterAll(() => t?.stop());

const message = (subscriptionId: string, n: number): ParsedDeliveryMessage => ({
  webhookId: `msg_e${n}_${subscriptionId}`,
  eventId: `e${n}`,
  event: 'request.create',
  projectId: 'p-held',
  subscriptionId,
  publishedAt: `2026-12-04T10:00:0${n}.000Z`,
  payload: { n },
  attempt: 1,
  retry: 0,
});

async function heldCount(subscriptionId: string): Promise<number | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: t.stack.tableName, Key: { pk: 'PROJECT#p-held', sk: `HEALTH#${subscriptionId}` }, ConsistentRead: true }));
  return Item?.heldCount as number | undefined;
}

test('a delivery parked again before the release deletes it stays parked, and is counted once', async () => {
  await store.park('p-held', 's-race', [message('s-race', 1), message('s-race', 2)], Date.now());
  const read = await store.oldest('p-held', 's-race', 10);
  expect(read.messages.map((m) => m.webhookId)).toEqual(['msg_e1_s-race', 'msg_e2_s-race']);
  // Released, received, its circuit open again: parked anew under the same key.
  await store.park('p-held', 's-race', [message('s-race', 1)], Date.now());
  // The release's delete comes after.
  await store.remove('p-held', 's-race', read.keys);
  const left = await store.oldest('p-held', 's-race', 10);
  expect(left.messages.map((m) => m.webhookId)).toEqual(['msg_e1_s-race']);
  expect(await heldCount('s-race')).toBe(1);
});

test('removing the same handles twice deletes and counts off once', async () => {
  await store.park('p-held', 's-twice', [message('s-twice', 1), message('s-twice', 2), message('s-twice', 3)], Date.now());
  const { keys } = await store.oldest('p-held', 's-twice', 2);
  await store.remove('p-held', 's-twice', keys);
  await store.remove('p-held', 's-twice', keys);
  expect((await store.oldest('p-held', 's-twice', 10)).messages.map((m) => m.webhookId)).toEqual(['msg_e3_s-twice']);
  expect(await heldCount('s-twice')).toBe(1);
});

test('the count is set to 0 once nothing is parked (items the TTL removed were never counted off), and only then', async () => {
  const keys = await store.park('p-held', 's-expired', [message('s-expired', 1), message('s-expired', 2)], Date.now());
  expect(await heldCount('s-expired')).toBe(2);
  // One expires as DynamoDB's TTL would remove it: deleted without the store counting it off.
  const { DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
  const first = keys[0]!.split('|')[1]!;
  await client.send(new DeleteCommand({ TableName: t.stack.tableName, Key: { pk: 'HELD#p-held#s-expired', sk: first } }));
  await store.settleCount('p-held', 's-expired');
  expect(await heldCount('s-expired')).toBe(2);
  // The other released as usual; the count still holds the expired one until settled.
  const { keys: left } = await store.oldest('p-held', 's-expired', 10);
  await store.remove('p-held', 's-expired', left);
  expect(await heldCount('s-expired')).toBe(1);
  await store.settleCount('p-held', 's-expired');
  expect(await heldCount('s-expired')).toBe(0);
});

test('a count left below zero is set back to 0 once nothing is parked', async () => {
  await client.send(
    new UpdateCommand({
      TableName: t.stack.tableName,
      Key: { pk: 'PROJECT#p-held', sk: 'HEALTH#s-negative' },
      UpdateExpression: 'SET heldCount = :minus',
      ExpressionAttributeValues: { ':minus': -1 },
    }),
  );
  await store.settleCount('p-held', 's-negative');
  expect(await heldCount('s-negative')).toBe(0);
});
