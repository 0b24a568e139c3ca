// SQS standard queues deliver at least once: a received message can come again, while the first
// receive is still being handled or after it was deleted (docs/design.md §3.14). With
// `sqsDuplicateRate: 1` every message the stack's queues hand out comes twice — the fan-out's
// events, both lanes' deliveries, wake-ups of parked deliveries — and the service must still keep
// its promises: one webhook-id per event and subscription, the same signed request each time,
// attempt logs that tell the truth, held counts that return to zero, rate limits kept.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import jwt from 'jsonwebtoken';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, ReceivedRequest, startReceiver } from '../support/receiver';

let t: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({ sqsDuplicateRate: 1, circuitCooldownSeconds: 2, retrySchedule: [1, 1, 1, 1, 1, 1, 1, 1] });
});

afterAll(async () => {
  await t?.stop();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

// Loaded once the stack has set the endpoint, as a function's module would be.
const client = async () => (await import('../../lambdas/adapters/aws-clients')).dynamoDocumentClient;

async function receiver(reply?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

const byWebhookId = (requests: ReceivedRequest[]): Map<string, ReceivedRequest[]> => {
  const groups = new Map<string, ReceivedRequest[]>();
  for (const request of requests) {
    const id = String(request.headers['webhook-id']);
    groups.set(id, [...(groups.get(id) ?? []), request]);
  }
  return groups;
};

it('delivers every event under one webhook-id per subscription, the same body each time, and logs it delivered', async () => {
  const projectId = 'p-twice';
  const hook = await receiver();
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  await publish(
    t,
    Array.from({ length: 5 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n } })),
  );
  await eventually(() => expect(byWebhookId(hook.received).size).toBe(5), 20_000);
  // Copies of copies are not made, and every copy has been handled by now.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const groups = byWebhookId(hook.received);
  expect(groups.size).toBe(5);
  for (const requests of groups.values()) {
    // Tiledesk's body carries its send time twice: `timestamp`, and the token's `iat` (seconds, so
    // a copy POSTed in the next second has another token). The rest is the same each time.
    const sameParts = (body: string) => {
      const { timestamp: _sentAt, token, ...rest } = JSON.parse(body) as Record<string, unknown>;
      const { iat: _issuedAt, ...claims } = jwt.decode(String(token)) as Record<string, unknown>;
      return { ...rest, claims };
    };
    const first = sameParts(requests[0]!.body);
    for (const request of requests) expect(sameParts(request.body)).toEqual(first);
  }
  // Some POSTs came twice: the copies were really handled.
  expect(hook.received.length).toBeGreaterThan(5);
  const logs = await logsOf(t, projectId, _id);
  const delivered = new Set(logs.filter((attempt) => attempt.outcome === 'delivered').map((attempt) => attempt.webhookId));
  expect([...delivered].sort()).toEqual([...groups.keys()].sort());
  expect(logs.filter((attempt) => attempt.outcome !== 'delivered')).toEqual([]);
}, 60_000);

it('releases what an open circuit held, and its held count returns to zero', async () => {
  const projectId = 'p-held-twice';
  let healthy = false;
  const hook = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  const owner = t.tokenFor({ [projectId]: 'owner' });
  await publish(
    t,
    Array.from({ length: 5 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n } })),
  );
  await eventually(async () => {
    const reply = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token: owner });
    expect(reply.body.health).toMatchObject({ circuit: 'open' });
  }, 30_000);
  await publish(
    t,
    Array.from({ length: 10 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n: 100 + n } })),
  );
  healthy = true;
  await eventually(() => {
    const delivered = new Set(hook.received.map((request) => JSON.parse(request.body).payload.n as number));
    expect(delivered.size).toBe(15);
  }, 45_000);
  await eventually(async () => {
    const reply = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token: owner });
    expect(reply.body.health).toMatchObject({ circuit: 'closed' });
    expect((reply.body.health as { held?: unknown[] }).held).toBeUndefined();
    // The stored count itself (the API shows only counts above 0): back to 0, not below.
    const { Item } = await (await client()).send(new GetCommand({ TableName: t.stack.tableName, Key: { pk: `PROJECT#${projectId}`, sk: `HEALTH#${_id}` }, ConsistentRead: true }));
    expect(Number(Item?.heldCount ?? 0)).toBe(0);
  }, 30_000);
}, 120_000);

it('keeps a rate limit with every delivery message coming twice: a copy of a held delivery takes a slot of its own', async () => {
  const projectId = 'p-rate-twice';
  const hook = await receiver();
  const owner = t.tokenFor({ [projectId]: 'owner' });
  const created = await t.api('POST', `/${projectId}/subscriptions`, {
    token: owner,
    body: { event: 'request.create', target: hook.url, rateLimit: 2 },
  });
  expect(created.status).toBe(200);
  await publish(
    t,
    Array.from({ length: 10 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n } })),
  );
  await eventually(() => expect(byWebhookId(hook.received).size).toBe(10), 60_000);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  // Every POST, copies included, within the limit's documented bound: a POST starts at most
  // 250 ms after its slot, so a second holds at most 2 × 1.25 + 1 (docs/api.md, "Rate limit").
  const times = hook.received.map((request) => request.at).sort((a, b) => a - b);
  for (const start of times) expect(times.filter((at) => at >= start && at < start + 1000).length).toBeLessThanOrEqual(3);
  // And no two POSTs share a slot (slots are 500 ms apart, a POST lags its slot by 250 ms at
  // most; a copy in its original's slot came some 20 ms after it).
  for (let index = 1; index < times.length; index++) expect(times[index]! - times[index - 1]!).toBeGreaterThan(100);
}, 120_000);
