// A subscription's rateLimit (deliveries per second) is never exceeded by more than 10 % over
// any 10 s window, nor by more than the lateness a POST may have over any second; the excess is delayed, never dropped, and spends no attempt. Each held
// delivery reserves its slot and is re-sent once, for exactly that slot: a backlog of N costs
// O(N) SQS requests, counted here at the local AWS endpoint (docs/design.md §3.3).
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { LoggedAttempt, eventually, publish } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
const RATE = 5;
const EVENTS = 1000;
/** SQS requests by action, counted at the local AWS endpoint while the test runs. */
const sqsRequests = new Map<string, number>();
/** `ReceiveMessage` requests that returned no message: the pollers' idle long polls. */
let emptyReceives = 0;
let counting = false;

beforeAll(async () => {
  t = await startTestStack({
    onAwsRequest: (service, action, detail) => {
      if (!counting || service !== 'sqs') return;
      if (detail?.empty) emptyReceives++;
      else sqsRequests.set(action, (sqsRequests.get(action) ?? 0) + 1);
    },
  });
  hook = await startReceiver(() => ({ status: 200 }));
});

afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

/** Every logged attempt of a subscription, page by page. */
async function allLogs(projectId: string, subscriptionId: string, token: string): Promise<LoggedAttempt[]> {
  const items: LoggedAttempt[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const reply = await t.api('GET', `/${projectId}/subscriptions/${subscriptionId}/logs?limit=200${query}`, { token });
    items.push(...(reply.body.items as LoggedAttempt[]));
    cursor = reply.body.nextCursor as string | null;
  } while (cursor);
  return items;
}

it(`holds a ${EVENTS}-event burst to rateLimit ${RATE}/s (+10 % over every 10 s window), delivers all of it, with ≤ 3 SQS requests per delivery`, async () => {
  const projectId = 'p-rate-limited';
  const token = t.tokenFor({ [projectId]: 'owner' });
  const created = await t.api('POST', `/${projectId}/subscriptions`, {
    token,
    body: { event: 'request.create', target: hook.url, rateLimit: RATE },
  });
  expect(created.body).toMatchObject({ rateLimit: RATE });
  const subscriptionId = created.body._id as string;
  // The event sources long-poll their queues whether or not there is work, and poll more while
  // they have scaled up; those empty receives are counted apart, so the figure is what the
  // backlog itself costs: sends, deletes and the receives that brought messages.
  counting = true;
  for (let start = 0; start < EVENTS; start += 10) {
    await publish(
      t,
      Array.from({ length: 10 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n: start + n } })),
    );
  }
  await hook.waitFor(EVENTS, (EVENTS / RATE) * 1000 * 1.5 + 30_000);
  // At least once: a rare duplicate (same webhook-id) may come before the last new one.
  const received = await eventually(() => {
    expect(new Set(hook.received.map((request) => request.headers['webhook-id'])).size).toBe(EVENTS);
    return [...hook.received];
  }, 30_000);
  counting = false;
  const total = [...sqsRequests.values()].reduce((sum, count) => sum + count, 0);
  const ids = received.map((request) => String(request.headers['webhook-id']));
  const repeated = ids.filter((id, index) => ids.indexOf(id) !== index);
  console.log(
    `SQS requests for ${EVENTS} deliveries at ${RATE}/s: ${total} carrying messages ` +
      `(${JSON.stringify(Object.fromEntries(sqsRequests))}), ${emptyReceives} empty receives; repeated ids: ${JSON.stringify(repeated)}`,
  );
  expect(repeated.length).toBeLessThanOrEqual(EVENTS / 100);

  const times = received.map((request) => request.at).sort((a, b) => a - b);
  let busiest = 0;
  for (let first = 0, last = 0; first < times.length; first++) {
    while (last < times.length && times[last]! < times[first]! + 10_000) last++;
    busiest = Math.max(busiest, last - first);
  }
  expect(busiest).toBeLessThanOrEqual(RATE * 10 * 1.1);
  // And per second, as a receiver's own limit counts: slots are 1/rate apart, and a POST starts
  // at most 250 ms after its slot (later ones ask for a new slot), so a second holds at most
  // rate × 1.25 + 1 starts; one more for the receipts' own timing (7 measured on a quiet
  // machine, 2026-12-05; the 500 ms tolerance before allowed rate × 1.5 + 1 in the first second
  // alone, and `test/lambdas/core/delivery-admission.test.ts` holds the slots' spacing exactly).
  // Each delivery's first receipt: a duplicate (at least once) is not a POST the limit spaced.
  const firstReceipts = new Map<string, number>();
  for (const request of received) {
    const id = String(request.headers['webhook-id']);
    if (!firstReceipts.has(id)) firstReceipts.set(id, request.at);
  }
  const firstTimes = [...firstReceipts.values()].sort((a, b) => a - b);
  let busiestSecond = 0;
  for (let first = 0, last = 0; first < firstTimes.length; first++) {
    while (last < firstTimes.length && firstTimes[last]! < firstTimes[first]! + 1000) last++;
    busiestSecond = Math.max(busiestSecond, last - first);
  }
  console.log(`busiest second: ${busiestSecond} deliveries, busiest 10 s: ${busiest}`);
  expect(busiestSecond).toBeLessThanOrEqual(Math.floor(RATE * 1.25) + 2);
  // Not slower than the limit needs, either: the whole burst within 1.5× its ideal time.
  expect(times.at(-1)! - times[0]!).toBeLessThan((EVENTS / RATE) * 1000 * 1.5);

  const logs = await eventually(async () => {
    const found = await allLogs(projectId, subscriptionId, token);
    expect(found.filter((attempt) => attempt.outcome === 'delivered')).toHaveLength(received.length);
    return found;
  });
  // Held deliveries spent no attempt: an attempt past the first follows a logged failure of the
  // same delivery, never a hold. (On a loaded machine a POST can miss the fast lane's 500 ms
  // answer deadline and be tried again in the slow lane: seen once in a full `npm test`, 1 of 1,000.)
  const failed = logs.filter((attempt) => attempt.outcome !== 'delivered');
  if (failed.length > 0) console.log(`failed attempts: ${JSON.stringify(failed.map(({ webhookId, attempt, error }) => ({ webhookId, attempt, error })))}`);
  const failedIds = new Set(failed.map((attempt) => attempt.webhookId));
  expect(logs.filter((attempt) => attempt.attempt !== 1 && !failedIds.has(attempt.webhookId))).toEqual([]);
  expect(failed.length).toBeLessThanOrEqual(EVENTS / 100);

  // Every SQS request of the run that carried messages (publishing, fan-out, delivery, held
  // re-sends); a held delivery re-sent for every poll instead of once would be far above this.
  expect(emptyReceives).toBeGreaterThan(0);
  expect(total / EVENTS).toBeLessThanOrEqual(3);
}, 420_000);
