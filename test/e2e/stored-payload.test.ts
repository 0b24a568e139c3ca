// An event's payload is stored once, by the fan-out, and its deliveries' attempts refer to it
// instead of each keeping a copy (docs/design.md §3.18). Reads give the payload back as before;
// when the payload could not be stored, the attempts keep it themselves.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Attempt } from '../../lambdas/core/attempt';
import { DELIVERY } from '../../lambdas/core/settings';
import { storedPayloadKey } from '../../lambdas/core/stored-payload';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
let table: DynamoDBDocumentClient;
let fanOutDeps: typeof import('../../lambdas/handlers/fan-out').fanOutDeps;

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [1], functionThread: false });
  // Fails the first POST of each webhook id whose payload asks for it, so one delivery is retried.
  const failedOnce = new Set<string>();
  hook = await startReceiver((_, request) => {
    const id = String(request.headers['webhook-id']);
    if ((JSON.parse(request.body) as { payload?: { failFirst?: boolean } }).payload?.failFirst && !failedOnce.has(id)) {
      failedOnce.add(id);
      return { status: 503 };
    }
    return { status: 200 };
  });
  table = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: t.stack.awsEndpoint }));
  ({ fanOutDeps } = await import('../../lambdas/handlers/fan-out'));
});
afterAll(async () => {
  await hook?.close();
  await t?.stop();
});

async function items(prefix: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await table.send(new ScanCommand({ TableName: t.stack.tableName }));
  return Items.filter((item) => String(item.pk).startsWith(prefix));
}

async function logs(projectId: string, subscriptionId: string): Promise<Attempt[]> {
  const reply = await t.api('GET', `/${projectId}/subscriptions/${subscriptionId}/logs`, { token: t.tokenFor({ [projectId]: 'owner' }) });
  expect(reply.status).toBe(200);
  return reply.body.items as Attempt[];
}

test('three subscribers and a retry: the payload is stored once, every attempt refers to it, and every read gives it back', async () => {
  const projectId = 'p-stored-once';
  const subscribers = [];
  for (let n = 0; n < 3; n++) subscribers.push(await subscribe(t, projectId, 'request.create', `${hook.url}/s${n}`));
  const payload = { id_project: projectId, text: 'ciao, vorrei parlare con un operatore', failFirst: true, nested: { n: [1, 2, 3] } };
  const [entry] = await publish(t, [{ type: 'request.create', detail: payload }]);
  const eventId = entry!.EventId!;
  // 3 deliveries, one of them (each webhook id fails once) retried: 6 attempts in all.
  await eventually(() => expect(hook.received.filter((request) => String(request.headers['webhook-id']).includes(eventId))).toHaveLength(6), 30_000);

  const stored = await eventually(async () => {
    const found = await items(`EVENT#${projectId}#`);
    expect(found).toHaveLength(1);
    return found[0]!;
  });
  expect(stored).toMatchObject(storedPayloadKey(projectId, eventId));
  // It outlives the attempts that refer to it: published + retention + the reference window.
  const expected = Date.now() / 1000 + (DELIVERY.attemptLogTtlDays + DELIVERY.storedPayloadReferenceDays) * 86_400;
  expect(Math.abs(Number(stored.expiresAt) - expected)).toBeLessThan(120);

  const attemptItems = await eventually(async () => {
    const found = (await items(`LOGS#${projectId}#`)).filter((item) => item.eventId === eventId);
    expect(found).toHaveLength(6);
    return found;
  });
  for (const item of attemptItems) {
    expect(item.payloadGz).toBeUndefined();
    expect(item.payloadWithEvent).toBe(true);
  }

  for (const subscriber of subscribers) {
    const page = await logs(projectId, subscriber._id);
    expect(page.map((attempt) => [attempt.attempt, attempt.outcome])).toEqual([
      [2, 'delivered'],
      [1, 'failed'],
    ]);
    for (const attempt of page) {
      expect(attempt.payload).toEqual(payload);
      expect(attempt).not.toHaveProperty('payloadWithEvent');
    }
  }
  const history = await t.api('GET', `/${projectId}/subscriptions/history`, { token: t.tokenFor({ [projectId]: 'owner' }) });
  expect((history.body.items as Attempt[]).map((attempt) => attempt.payload)).toEqual(Array(6).fill(payload));

  // A retry from the log reads the stored payload back and POSTs it whole.
  const [first] = await logs(projectId, subscribers[0]!._id);
  const before = hook.received.length;
  const retried = await t.api('POST', `/${projectId}/subscriptions/${subscribers[0]!._id}/logs/${first!.logId}/retry`, {
    token: t.tokenFor({ [projectId]: 'owner' }),
  });
  expect(retried.status).toBe(202);
  await eventually(() => expect(hook.received.length).toBe(before + 1));
  expect((JSON.parse(hook.received.at(-1)!.body) as { payload: unknown }).payload).toEqual(payload);
});

test('a stored payload gone before its attempts (deleted by hand) is said so, not a 500', async () => {
  const projectId = 'p-stored-gone';
  const subscriber = await subscribe(t, projectId, 'lead.create', hook.url);
  // Two subscribers: an event with one delivery is logged with its payload, as one item.
  await subscribe(t, projectId, 'lead.create', `${hook.url}/second`);
  const [entry] = await publish(t, [{ type: 'lead.create', detail: { id_project: projectId, lead: 'l1' } }]);
  const eventId = entry!.EventId!;
  await eventually(async () => expect(await logs(projectId, subscriber._id)).toHaveLength(1));
  await table.send(new DeleteCommand({ TableName: t.stack.tableName, Key: storedPayloadKey(projectId, eventId) }));
  const [attempt] = await logs(projectId, subscriber._id);
  expect(attempt).toMatchObject({ eventId, outcome: 'delivered', payloadOmitted: 'expired with its event' });
  expect(attempt!.payload).toBeUndefined();
});

test('an event with one delivery, or whose payload cannot be stored, is logged with its payload', async () => {
  const single = 'p-stored-single';
  const alone = await subscribe(t, single, 'lead.create', hook.url);
  await publish(t, [{ type: 'lead.create', detail: { id_project: single, lead: 'l3' } }]);
  await eventually(async () => expect((await logs(single, alone._id)).map((attempt) => attempt.payload)).toEqual([{ id_project: single, lead: 'l3' }]));
  expect(await items(`EVENT#${single}#`)).toEqual([]);
  expect((await items(`LOGS#${single}#`))[0]!.payloadGz).toBeInstanceOf(Uint8Array);

  const projectId = 'p-stored-not';
  const subscriber = await subscribe(t, projectId, 'lead.create', hook.url);
  await subscribe(t, projectId, 'lead.create', `${hook.url}/second`);
  const original = fanOutDeps.storePayloads;
  fanOutDeps.storePayloads = () => Promise.resolve(new Set());
  try {
    await publish(t, [{ type: 'lead.create', detail: { id_project: projectId, lead: 'l2' } }]);
    const [attempt] = await eventually(async () => {
      const page = await logs(projectId, subscriber._id);
      expect(page).toHaveLength(1);
      return page;
    });
    expect(attempt!.payload).toEqual({ id_project: projectId, lead: 'l2' });
  } finally {
    fanOutDeps.storePayloads = original;
  }
  expect(await items(`EVENT#${projectId}#`)).toEqual([]);
  for (const item of await eventually(async () => {
    const found = await items(`LOGS#${projectId}#`);
    expect(found).toHaveLength(2);
    return found;
  })) {
    expect(item.payloadGz).toBeInstanceOf(Uint8Array);
    expect(item.payloadWithEvent).toBeUndefined();
  }
});

test('two subscribers, ten events in one batch: each one\'s attempts share items, and every listing, page boundary and retry still finds each once', async () => {
  const projectId = 'p-grouped';
  const subscriber = await subscribe(t, projectId, 'lead.create', `${hook.url}/grouped`);
  await subscribe(t, projectId, 'lead.create', `${hook.url}/other`);
  const token = t.tokenFor({ [projectId]: 'owner' });
  const details = Array.from({ length: 10 }, (_, n) => ({ id_project: projectId, lead: `l${n}` }));
  await publish(t, details.map((detail) => ({ type: 'lead.create', detail })));
  const attemptItems = await eventually(async () => {
    expect(hook.received.filter((request) => request.path.endsWith('/grouped'))).toHaveLength(10);
    // The attempts are logged after their POSTs: wait until all ten are.
    expect(await logs(projectId, subscriber._id)).toHaveLength(10);
    return (await items(`LOGS#${projectId}#`)).filter((item) => String(item.pk).startsWith(`LOGS#${projectId}#${subscriber._id}#`));
  }, 30_000);
  // Fewer items than attempts: at least one group of two or more (batches of up to ten).
  expect(attemptItems.length).toBeLessThan(10);
  expect(attemptItems.some((item) => item.attemptsGz instanceof Uint8Array)).toBe(true);

  // Pages of three cut through groups; each attempt comes once, newest first, with its payload.
  const seen: Attempt[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const reply = await t.api('GET', `/${projectId}/subscriptions/${subscriber._id}/logs?limit=3${query}`, { token });
    expect(reply.status).toBe(200);
    seen.push(...(reply.body.items as Attempt[]));
    cursor = reply.body.nextCursor as string | null;
  } while (cursor);
  expect(seen).toHaveLength(10);
  expect(new Set(seen.map((attempt) => attempt.logId)).size).toBe(10);
  expect(seen.map((attempt) => attempt.logId)).toEqual(seen.map((attempt) => attempt.logId).sort().reverse());
  expect(seen.map((attempt) => attempt.payload).sort((a, b) => String(a!.lead).localeCompare(String(b!.lead)))).toEqual(details);
  const history = await t.api('GET', `/${projectId}/subscriptions/history?limit=20`, { token });
  const historyIds = (history.body.items as Attempt[]).map((attempt) => attempt.logId);
  expect(historyIds).toHaveLength(20);
  expect(historyIds).toEqual([...historyIds].sort().reverse());
  expect(historyIds.filter((id) => seen.some((attempt) => attempt.logId === id)).sort()).toEqual(seen.map((attempt) => attempt.logId).sort());

  // A grouped attempt is found by its id: retried from the log, its own event's payload is POSTed.
  const grouped = seen.find((attempt) => attempt.logId.includes('_'))!;
  expect(grouped).toBeDefined();
  const before = hook.received.length;
  const retried = await t.api('POST', `/${projectId}/subscriptions/${subscriber._id}/logs/${grouped.logId}/retry`, { token });
  expect(retried.status).toBe(202);
  await eventually(() => expect(hook.received.length).toBe(before + 1));
  expect((JSON.parse(hook.received.at(-1)!.body) as { payload: unknown }).payload).toEqual(grouped.payload);
  // An id in no group, or past a group's end, is a 404, not a 500.
  const missing = await t.api('POST', `/${projectId}/subscriptions/${subscriber._id}/logs/${grouped.logId.slice(0, 25)}_99/retry`, { token });
  expect(missing.status).toBe(404);
});

test('recover over grouped attempts: each dead delivery is sent again once, with its own payload', async () => {
  const projectId = 'p-grouped-recover';
  let healthy = false;
  const failing = await startReceiver(() => (healthy ? { status: 200 } : { status: 500 }));
  try {
    const a = await subscribe(t, projectId, 'lead.create', failing.url);
    await subscribe(t, projectId, 'lead.create', `${hook.url}/recover-b`);
    const token = t.tokenFor({ [projectId]: 'owner' });
    const since = new Date(Date.now() - 1000).toISOString();
    // Two events, two tries each: four failures in a row, under the five that open the
    // subscription's circuit. With four events the circuit could open before the last retries
    // (when the deliveries came in more than one batch), and hold them past the wait below.
    const details = Array.from({ length: 2 }, (_, n) => ({ id_project: projectId, lead: `r${n}` }));
    await publish(t, details.map((detail) => ({ type: 'lead.create', detail })));
    await eventually(async () => expect((await logs(projectId, a._id)).filter((attempt) => attempt.outcome === 'dead')).toHaveLength(2), 30_000);
    const grouped = (await items(`LOGS#${projectId}#${a._id}#`)).filter((item) => item.attemptsGz instanceof Uint8Array);
    expect(grouped.length).toBeGreaterThan(0);

    // The endpoint is fixed: its open circuit is reset (as its owner would), then recover.
    healthy = true;
    expect((await t.api('DELETE', `/${projectId}/subscriptions/${a._id}/health`, { token })).status).toBeLessThan(300);
    const before = failing.received.length;
    const recovered = await t.api('POST', `/${projectId}/subscriptions/${a._id}/recover`, { token, body: { since } });
    expect(recovered.status).toBe(202);
    expect(recovered.body.recovered).toBe(2);
    await failing.waitFor(before + 2);
    const resent = failing.received.slice(before).map((request) => (JSON.parse(request.body) as { payload: { lead: string } }).payload);
    expect(resent.sort((x, y) => x.lead.localeCompare(y.lead))).toEqual(details);
    const again = await t.api('POST', `/${projectId}/subscriptions/${a._id}/recover`, { token, body: { since } });
    expect(again.body.recovered).toBe(0);
  } finally {
    await failing.close();
  }
});
