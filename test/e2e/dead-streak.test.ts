// Auto-disable's streak against dynalite: a delivery that dies twice (SQS handed it out twice,
// and both copies ran out of retries, docs/design.md §3.14) counts once; distinct deaths count
// each; a success clears the streak and its ids; past the ids kept, the count goes on.
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { subscribe } from '../support/pipeline';

let t: TestStack;
let store: import('../../lambdas/adapters/subscription-store').SubscriptionStore;

beforeAll(async () => {
  t = await startTestStack();
  // Loaded once the stack has set the endpoint, as a function's module would be.
  const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
  store = new SubscriptionStore(t.stack.tableName);
});
afterAll(() => t?.stop());

const PROJECT = 'p-dead-streak';
const subscriptionNamed = async (name: string) => (await subscribe(t, PROJECT, 'request.create', `http://127.0.0.1:9/${name}`))._id;
const status = async (id: string) => (await t.api('GET', `/${PROJECT}/subscriptions/${id}`, { token: t.tokenFor({ [PROJECT]: 'owner' }) })).body.status;

test('a delivery dying twice counts once; five distinct deaths disable', async () => {
  const id = await subscriptionNamed('twice');
  for (const n of [1, 2, 3, 4]) {
    expect(await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 5, 'five in a row')).toBe(false);
    // The copy of the same delivery, dying too.
    expect(await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 5, 'five in a row')).toBe(false);
  }
  expect(await status(id)).toBe('active');
  expect(await store.recordDeadDelivery(PROJECT, id, 'msg_e5', 5, 'five in a row')).toBe(true);
  expect(await status(id)).toBe('disabled');
});

test('a success clears the streak and its ids', async () => {
  const id = await subscriptionNamed('reset');
  for (const n of [1, 2]) await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 3, 'three in a row');
  await store.resetDeadDeliveries(PROJECT, id);
  // msg_e1 dying again after the success starts a new streak: it counts.
  for (const n of [1, 2]) expect(await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 3, 'three in a row')).toBe(false);
  expect(await store.recordDeadDelivery(PROJECT, id, 'msg_e3', 3, 'three in a row')).toBe(true);
});

test('past the ids kept (the limit, 100 at most), a long streak counts on', async () => {
  const id = await subscriptionNamed('long');
  for (let n = 1; n < 105; n++) expect(await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 105, 'long')).toBe(false);
  expect(await store.recordDeadDelivery(PROJECT, id, 'msg_e105', 105, 'long')).toBe(true);
});

test('with a limit of 30, a copy of the 25th death still counts once', async () => {
  const id = await subscriptionNamed('thirty');
  for (let n = 1; n <= 25; n++) await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 30, 'thirty');
  expect(await store.recordDeadDelivery(PROJECT, id, 'msg_e25', 30, 'thirty')).toBe(false);
  for (let n = 26; n < 30; n++) expect(await store.recordDeadDelivery(PROJECT, id, `msg_e${n}`, 30, 'thirty')).toBe(false);
  expect(await store.recordDeadDelivery(PROJECT, id, 'msg_e30', 30, 'thirty')).toBe(true);
});

test('a deleted subscription counts nothing', async () => {
  const id = await subscriptionNamed('gone');
  const removed = await t.api('DELETE', `/${PROJECT}/subscriptions/${id}`, { token: t.tokenFor({ [PROJECT]: 'owner' }) });
  expect(removed.status).toBe(200);
  expect(await store.recordDeadDelivery(PROJECT, id, 'msg_e1', 1, 'one')).toBe(false);
});
