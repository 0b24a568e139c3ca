import { HEALTHY } from '../../lambdas/core/delivery-health';
import { subscriptionOf } from '../support/api-expectations';
import { startTestStack, TestStack } from '../support/local-stack-harness';

/** Nothing is delivered here: the test reads what delivery would read. */
const TARGET = 'http://127.0.0.1:9/hook';

let t: TestStack;
/** DynamoDB requests seen at the local AWS endpoint, by action. */
const dynamoDbRequests: string[] = [];

beforeAll(async () => {
  t = await startTestStack({ onAwsRequest: (service, action) => service === 'dynamodb' && dynamoDbRequests.push(action) });
});
afterAll(() => t.stop());

async function subscribe(projectId: string): Promise<string> {
  const token = t.tokenFor({ [projectId]: 'owner' });
  const reply = await t.api('POST', `/${projectId}/subscriptions`, { token, body: { event: 'request.create', target: TARGET } });
  expect(reply.status).toBe(200);
  return subscriptionOf(reply)._id;
}

test("a delivery batch's subscriptions and their health come from one BatchGetItem, across projects", async () => {
  // The adapters' clients are built at import, from the environment the local stack sets.
  const { readDeliveryState } = await import('../../lambdas/adapters/delivery-state-store');
  const { DeliveryHealthStore } = await import('../../lambdas/adapters/delivery-health-store');
  const [first, second] = [await subscribe('state-a'), await subscribe('state-b')];
  const health = new DeliveryHealthStore(t.stack.tableName);
  const tripped = { ...HEALTHY, consecutiveFailures: 3, circuit: 'open' as const, openUntil: Date.now() + 60_000 };
  expect(await health.save('state-b', second, { ...HEALTHY }, tripped)).toBe(true);

  const seenBefore = dynamoDbRequests.length;
  const keys = [
    { projectId: 'state-a', subscriptionId: first },
    { projectId: 'state-b', subscriptionId: second },
    { projectId: 'state-a', subscriptionId: first },
    { projectId: 'state-a', subscriptionId: 'sub-that-was-deleted' },
  ];
  const state = await readDeliveryState(t.stack.tableName, keys);

  expect(dynamoDbRequests.slice(seenBefore)).toEqual(['BatchGetItem']);
  expect([...state.subscriptions.keys()].sort()).toEqual([first, second].sort());
  expect(state.subscriptions.get(first)).toMatchObject({ id_project: 'state-a', event: 'request.create', target: TARGET });
  expect(state.subscriptions.get(first)).not.toHaveProperty('pk');
  // A subscription that never failed has no health item: it reads as healthy.
  expect(state.healths.get(first)).toEqual({ ...HEALTHY });
  expect(state.healths.get(second)).toMatchObject({ consecutiveFailures: 3, circuit: 'open', version: 1 });
  expect(state.healths.get('sub-that-was-deleted')).toEqual({ ...HEALTHY });
});

test("the slow lane's memory is stored with the health: spells in a row and the last return", async () => {
  const { DeliveryHealthStore } = await import('../../lambdas/adapters/delivery-health-store');
  const subscriptionId = await subscribe('state-c');
  const health = new DeliveryHealthStore(t.stack.tableName);
  const slow = { ...HEALTHY, lane: 'slow' as const, slowSpells: 3 };
  expect(await health.save('state-c', subscriptionId, { ...HEALTHY }, slow)).toBe(true);
  const read = await health.get('state-c', subscriptionId);
  expect(read).toMatchObject({ lane: 'slow', slowSpells: 3, version: 1 });
  const back = { ...read, lane: 'fast' as const, fastSince: Date.now() };
  expect(await health.save('state-c', subscriptionId, read, back)).toBe(true);
  expect(await health.get('state-c', subscriptionId)).toMatchObject({ lane: 'fast', slowSpells: 3, fastSince: back.fastSince, version: 2 });
});
