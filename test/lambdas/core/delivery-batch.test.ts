// The batch use case over in-memory stores and queues (the end-to-end tests run it on the local
// stack): what it sends where, for held, parked and released deliveries.
import { Attempt } from '../../../lambdas/core/attempt';
import { DeliveryBatchDeps, QueuedMessage, deliverBatch } from '../../../lambdas/core/delivery-batch';
import { DeliveryHealth, HEALTHY } from '../../../lambdas/core/delivery-health';
import { ParsedDeliveryMessage, packBody } from '../../../lambdas/core/delivery-message';
import { DELIVERY } from '../../../lambdas/core/settings';
import { Subscription } from '../../../lambdas/core/subscription';

const subscription = {
  _id: 's1',
  id_project: 'p1',
  event: 'request.create',
  target: 'https://example.com/hook',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  createdBy: 'u',
  createdAt: '2026-12-01T00:00:00Z',
  updatedAt: '2026-12-01T00:00:00Z',
  status: 'active',
} as Subscription;

function world(health: DeliveryHealth, sub: Subscription = subscription) {
  const state = { health: { ...health }, parked: new Map<string, ParsedDeliveryMessage>(), posts: 0, settled: 0, slotsTaken: new Set<string>(), reserved: 0 };
  const sent: { queue: string; message: QueuedMessage }[] = [];
  const attempts: Attempt[] = [];
  const deps: DeliveryBatchDeps = {
    post: async () => {
      state.posts += 1;
      return { statusCode: 200, headers: {}, body: '', durationMs: 5 };
    },
    unsubscribe: async () => undefined,
    retry: { schedule: [5], jitter: 0, retryAfterMinSeconds: 1, retryAfterMaxSeconds: 60 },
    timeoutMs: { fast: 1000, slow: 10_000 },
    maxDelaySeconds: 900,
    origin: 'https://example.com',
    stores: {
      getState: async (keys) => ({
        subscriptions: new Map([[sub._id, sub]]),
        healths: new Map(keys.map((key) => [key.subscriptionId, { ...state.health }])),
      }),
      getHealth: async () => ({ ...state.health }),
      saveHealth: async (_p, _s, _before, after) => {
        // As the store: the parked count, the wake-up and the rate clock have writes of their own.
        const { heldCount, wakeAt, rateTat } = state.health;
        state.health = { ...after, heldCount, wakeAt, rateTat, version: after.version + 1 };
        return true;
      },
      claimProbe: async () => true,
      reserveRate: async (_p, _s, _rate, wanted) => {
        state.reserved += wanted;
        return undefined;
      },
      claimRateSlot: async (_p, _s, slotAt, webhookId) => {
        const key = `${slotAt}#${webhookId}`;
        if (state.slotsTaken.has(key)) return false;
        state.slotsTaken.add(key);
        return true;
      },
      recordDeadDelivery: async () => false,
      resetDeadDeliveries: async () => undefined,
      park: async (_p, _s, messages) => {
        for (const message of messages) state.parked.set(message.webhookId, message);
        state.health.heldCount = state.parked.size;
        return messages.map((message) => message.webhookId);
      },
      oldestHeld: async (_p, _s, limit) => {
        const entries = [...state.parked.entries()].slice(0, limit);
        return { keys: entries.map(([key]) => key), messages: entries.map(([, message]) => message), more: state.parked.size > limit };
      },
      removeHeld: async (_p, _s, keys) => {
        for (const key of keys) state.parked.delete(key);
        state.health.heldCount = Math.max(0, (state.health.heldCount ?? 0) - keys.length);
      },
      settleHeld: async () => {
        state.settled += 1;
        if (state.parked.size === 0) state.health.heldCount = 0;
      },
      scheduleWake: async (_p, _s, expected, at, now) => {
        const due = state.health.wakeAt;
        if (expected === undefined ? due !== undefined && due >= now - 60_000 : due !== expected) return false;
        state.health.wakeAt = at;
        return true;
      },
      clearWake: async (_p, _s, expected) => {
        if (state.health.wakeAt === expected) delete state.health.wakeAt;
      },
    },
    writeAttempts: async (list) => void attempts.push(...list),
    reschedule: async () => undefined,
    send: async (queue, messages) => {
      sent.push(...messages.map((message) => ({ queue, message })));
      return [];
    },
    report: { metric: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    settings: { ...DELIVERY, autoDisableAfterDead: 5 },
  };
  return { state, sent, attempts, deps };
}

const message = (n: number): string =>
  JSON.stringify({
    webhookId: `msg_e${n}_s1`,
    eventId: `e${n}`,
    event: 'request.create',
    projectId: 'p1',
    subscriptionId: 's1',
    publishedAt: `2026-12-03T10:00:0${n}Z`,
    payload: { id_project: 'p1', n },
  });
const records = (bodies: string[]) => bodies.map((body, index) => ({ messageId: `m${index}`, receiptHandle: `r${index}`, body }));

test('an open circuit parks its deliveries (no POST, no attempt) and schedules one wake-up at the cool-down end', async () => {
  const openUntil = Date.now() + 30_000;
  const { state, sent, attempts, deps } = world({ ...HEALTHY, circuit: 'open', openUntil, consecutiveFailures: 5 });
  const failed = await deliverBatch('fast', records([message(1), message(2), message(3)]), deps);
  expect(failed).toEqual([]);
  expect(state.posts).toBe(0);
  expect(attempts).toEqual([]);
  expect([...state.parked.keys()]).toEqual(['msg_e1_s1', 'msg_e2_s1', 'msg_e3_s1']);
  expect(sent).toHaveLength(1);
  const wake = JSON.parse(sent[0]!.message.body) as { wake: string; wakeAt: number };
  expect(wake).toMatchObject({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1' });
  expect(wake.wakeAt).toBeGreaterThanOrEqual(openUntil);
  expect(sent[0]!.message.delaySeconds).toBeGreaterThanOrEqual(29);

  // More held while the wake-up is due: parked, and no second wake-up.
  await deliverBatch('fast', records([message(4)]), deps);
  expect(state.parked.size).toBe(4);
  expect(sent).toHaveLength(1);
});

test('a wake-up after a reset releases the parked deliveries paced and then stops', async () => {
  const { state, sent, deps } = world({ ...HEALTHY });
  for (let n = 0; n < 12; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n % 10)) as ParsedDeliveryMessage);
  state.health.heldCount = 12;
  state.health.wakeAt = Date.now();
  const wake = JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: state.health.wakeAt });

  await deliverBatch('fast', records([wake]), deps);
  const released = sent.filter(({ message }) => !message.body.includes('release-held'));
  expect(released).toHaveLength(10);
  expect(released.map(({ message }) => message.delaySeconds)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  expect(state.parked.size).toBe(2);
  const next = sent.find(({ message }) => message.body.includes('release-held'))!;
  expect(JSON.parse(next.message.body).wakeAt).toBe(state.health.wakeAt);

  // The next wake-up releases the rest and clears the schedule; a stale one does nothing.
  sent.length = 0;
  await deliverBatch('fast', records([next.message.body]), deps);
  expect(sent).toHaveLength(2);
  expect(state.parked.size).toBe(0);
  expect(state.health.wakeAt).toBeUndefined();
  sent.length = 0;
  await deliverBatch('fast', records([next.message.body]), deps);
  expect(sent).toEqual([]);
});

describe('held deliveries of a subscription that is not active', () => {
  const DAY = 86_400_000;
  /** `count` parked deliveries published `ageDays` ago, oldest first. */
  const park = (state: ReturnType<typeof world>['state'], count: number, ageDays: number, from = 0) => {
    for (let n = from; n < from + count; n++) {
      const publishedAt = new Date(Date.now() - ageDays * DAY + n).toISOString();
      state.parked.set(`${publishedAt}#msg_e${n}_s1`, { ...(JSON.parse(message(n % 10)) as ParsedDeliveryMessage), webhookId: `msg_e${n}_s1`, publishedAt });
    }
    state.health.heldCount = state.parked.size;
  };
  const wakeOf = (state: ReturnType<typeof world>['state']) =>
    JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: state.health.wakeAt });
  const released = (sent: ReturnType<typeof world>['sent']) => sent.filter(({ message: queued }) => !queued.body.includes('release-held'));
  const nextWake = (sent: ReturnType<typeof world>['sent']) =>
    JSON.parse(sent.find(({ message: queued }) => queued.body.includes('release-held'))!.message.body) as { wakeAt: number };
  // Half-open: an active subscription would get one probe.
  const halfOpen = () => ({ ...HEALTHY, circuit: 'open' as const, openUntil: Date.now() - 1000, consecutiveFailures: 5, wakeAt: Date.now() });

  test('a disabled one keeps them for when it is enabled again (the reset releases them), looking again in 15 minutes', async () => {
    const { state, sent, deps } = world(halfOpen(), { ...subscription, status: 'disabled' } as Subscription);
    park(state, 150, 1);
    await deliverBatch('fast', records([wakeOf(state)]), deps);
    expect(released(sent)).toEqual([]);
    expect(state.parked.size).toBe(150);
    expect(nextWake(sent).wakeAt - Date.now()).toBeGreaterThan(890_000);
  });

  test("a disabled one's deliveries about to outlive their items' TTL are released (to be logged skipped), oldest first, and it looks again a second later", async () => {
    const { state, sent, deps } = world(halfOpen(), { ...subscription, status: 'disabled' } as Subscription);
    park(state, 30, DELIVERY.heldSkipAfterDays + 0.5);
    park(state, 20, 2, 30);
    await deliverBatch('fast', records([wakeOf(state)]), deps);
    expect(released(sent)).toHaveLength(30);
    expect(state.parked.size).toBe(20);
    expect(nextWake(sent).wakeAt - Date.now()).toBeLessThanOrEqual(1000);
  });

  test('a disabled one with nothing held stops its wake-ups', async () => {
    const { state, sent, deps } = world(halfOpen(), { ...subscription, status: 'disabled' } as Subscription);
    await deliverBatch('fast', records([wakeOf(state)]), deps);
    expect(sent).toEqual([]);
    expect(state.health.wakeAt).toBeUndefined();
  });

  test("a deleted one's drain at the release's most a second, whatever its circuit (each logged skipped when it comes)", async () => {
    const { state, sent, deps } = world(halfOpen());
    deps.stores.getState = async (keys) => ({ subscriptions: new Map(), healths: new Map(keys.map((key) => [key.subscriptionId, { ...state.health }])) });
    park(state, 150, 1);
    await deliverBatch('fast', records([wakeOf(state)]), deps);
    expect(released(sent)).toHaveLength(DELIVERY.heldReleaseMaxPerSecond);
    expect(state.parked.size).toBe(50);
    expect(nextWake(sent).wakeAt - Date.now()).toBeLessThanOrEqual(1000);
  });

  test('an active one in the same state gets one probe', async () => {
    const { state, sent, deps } = world(halfOpen());
    park(state, 150, 1);
    await deliverBatch('fast', records([wakeOf(state)]), deps);
    expect(released(sent)).toHaveLength(1);
  });
});

/** Three deliveries parked, `counted` on the health item, and the wake-up that releases them run. */
async function releaseThreeCounted(counted: number) {
  const { state, deps } = world({ ...HEALTHY });
  for (let n = 0; n < 3; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n)) as ParsedDeliveryMessage);
  state.health.heldCount = counted;
  state.health.wakeAt = Date.now();
  const wake = JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: state.health.wakeAt });
  await deliverBatch('fast', records([wake]), deps);
  return state;
}

test('a release that drains the partition with more counted than it took sets the count to 0 (parked items the TTL removed)', async () => {
  // Eight were parked; five expired in the table unreleased, never counted off.
  const state = await releaseThreeCounted(8);
  expect(state.parked.size).toBe(0);
  expect(state.settled).toBe(1);
  expect(state.health.heldCount).toBe(0);
});

test('a release that drains the partition with fewer counted than it took sets the count to 0 (a park raced by its copy)', async () => {
  // Three parked, two counted: one park of a delivery and its copy at once failed to count it.
  const state = await releaseThreeCounted(2);
  expect(state.parked.size).toBe(0);
  expect(state.settled).toBe(1);
  expect(state.health.heldCount).toBe(0);
});

test('a release that drains exactly what was counted reads nothing more', async () => {
  const state = await releaseThreeCounted(3);
  expect(state.settled).toBe(0);
  expect(state.health.heldCount).toBe(0);
});

test('a release ramps up: each wake-up doubles its pace while answers stay good, up to the maximum', async () => {
  const { state, sent, deps } = world({ ...HEALTHY });
  for (let n = 0; n < 400; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n % 10)) as ParsedDeliveryMessage);
  state.health.wakeAt = Date.now();
  let wake = JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: state.health.wakeAt });
  const releasedPerWake: number[] = [];
  const paces: (number | undefined)[] = [];
  while (state.parked.size > 0) {
    sent.length = 0;
    await deliverBatch('fast', records([wake]), deps);
    releasedPerWake.push(sent.filter(({ message }) => !message.body.includes('release-held')).length);
    const next = sent.find(({ message }) => message.body.includes('release-held'));
    if (!next) break;
    expect(next.message.delaySeconds).toBeLessThanOrEqual(1);
    wake = next.message.body;
    paces.push((JSON.parse(wake) as { pace?: number }).pace);
  }
  expect(releasedPerWake).toEqual([10, 20, 40, 80, 100, 100, 50]);
  expect(paces).toEqual([20, 40, 80, 100, 100, 100]);
  expect(DELIVERY.heldReleaseMaxPerSecond).toBe(100);
});

test('a release keeps its pace while the subscriber fails, never passes its rate limit, and starts over after the circuit reopens', async () => {
  const { state, sent, deps } = world({ ...HEALTHY, consecutiveFailures: 2 });
  for (let n = 0; n < 100; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n % 10)) as ParsedDeliveryMessage);
  state.health.wakeAt = Date.now();
  const wakeAt = state.health.wakeAt;
  await deliverBatch('fast', records([JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt, pace: 40 })]), deps);
  expect(sent.filter(({ message }) => !message.body.includes('release-held'))).toHaveLength(40);
  const kept = JSON.parse(sent.find(({ message }) => message.body.includes('release-held'))!.message.body) as { pace?: number; wakeAt: number };
  expect(kept.pace).toBe(40);

  // The circuit opened again: the wake-up comes back at the cool-down's end, at the first pace.
  sent.length = 0;
  state.health = { ...state.health, circuit: 'open', openUntil: Date.now() + 30_000, consecutiveFailures: 5 };
  await deliverBatch('fast', records([JSON.stringify(kept)]), deps);
  expect(sent).toHaveLength(1);
  expect(JSON.parse(sent[0]!.message.body)).not.toHaveProperty('pace');

  // A rate limit of 5/s: a batch of 10 spread over two seconds, whatever the pace.
  const limited = world({ ...HEALTHY }, { ...subscription, rateLimit: 5 });
  for (let n = 0; n < 30; n++) limited.state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n % 10)) as ParsedDeliveryMessage);
  limited.state.health.wakeAt = Date.now();
  await deliverBatch('fast', records([JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: limited.state.health.wakeAt, pace: 80 })]), limited.deps);
  const released = limited.sent.filter(({ message }) => !message.body.includes('release-held'));
  expect(released.map(({ message }) => message.delaySeconds)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);

  // A wake-up carrying a pace above the maximum (sent before a deployment lowered it) keeps to the maximum.
  const capped = world({ ...HEALTHY });
  for (let n = 0; n < 300; n++) capped.state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n % 10)) as ParsedDeliveryMessage);
  capped.state.health.wakeAt = Date.now();
  await deliverBatch('fast', records([JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: capped.state.health.wakeAt, pace: 250 })]), capped.deps);
  expect(capped.sent.filter(({ message }) => !message.body.includes('release-held'))).toHaveLength(DELIVERY.heldReleaseMaxPerSecond);
});

test('a probe that closes the circuit starts the release at once, taking over the wake-up due at the end of its lease', async () => {
  const openUntil = Date.now() - 1;
  const { state, sent, deps } = world({ ...HEALTHY, circuit: 'open', openUntil, cooldownSeconds: 30, consecutiveFailures: 5 });
  for (let n = 1; n < 9; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n)) as ParsedDeliveryMessage);
  state.health.heldCount = 8;
  const leaseEnd = Date.now() + 15_000;
  state.health.wakeAt = leaseEnd;
  // The batch read the health before the wake-up that released the probe moved on to its lease's end.
  const getState = deps.stores.getState;
  deps.stores.getState = async (keys) => {
    const read = await getState(keys);
    for (const health of read.healths.values()) health.wakeAt = openUntil;
    return read;
  };
  await deliverBatch('fast', records([message(9)]), deps);
  expect(state.posts).toBe(1);
  expect(state.health.circuit).toBe('closed');
  const wake = sent.find(({ message }) => message.body.includes('release-held'))!;
  expect(wake.message.delaySeconds).toBe(0);
  expect(state.health.wakeAt).toBe((JSON.parse(wake.message.body) as { wakeAt: number }).wakeAt);
  expect(state.health.wakeAt).toBeLessThan(leaseEnd);
});

test('the fast lane gives the answer its own deadline; a receiver that misses it is tried again at once in the slow lane', async () => {
  const { state, sent, attempts, deps } = world({ ...HEALTHY });
  const requests: { timeoutMs?: number; answerTimeoutMs?: number }[] = [];
  deps.answerTimeoutMs = { fast: DELIVERY.fastLaneAnswerMs };
  deps.post = async (request) => {
    requests.push({ timeoutMs: request.timeoutMs, answerTimeoutMs: request.answerTimeoutMs });
    return { headers: {}, body: '', durationMs: 560, answerMs: 500, error: 'no answer within 500 ms of the request', errorKind: 'timeout' };
  };
  await deliverBatch('fast', records([message(1)]), deps);
  expect(requests).toEqual([{ timeoutMs: 1000, answerTimeoutMs: DELIVERY.fastLaneAnswerMs }]);
  expect(attempts[0]).toMatchObject({ outcome: 'failed', errorKind: 'timeout', error: expect.stringContaining('slow lane') });
  expect(sent.map(({ queue }) => queue)).toEqual(['slow']);
  expect(state.health.lane).toBe('slow');

  // The slow lane has no answer deadline of its own: the whole timeout applies.
  requests.length = 0;
  await deliverBatch('slow', records([message(2)]), deps);
  expect(requests).toEqual([{ timeoutMs: 10_000 }]);

  // A subscriber timeout no longer than the fast lane's turns lanes off, and the answer deadline with them.
  requests.length = 0;
  state.health = { ...HEALTHY };
  deps.timeoutMs = { fast: 1000, slow: 1000 };
  await deliverBatch('fast', records([message(3)]), deps);
  expect(requests).toEqual([{ timeoutMs: 1000 }]);
});

test('quick answers are counted on the answer alone, so a far receiver with a slow handshake comes back to the fast lane', async () => {
  const { state, deps } = world({ ...HEALTHY, lane: 'slow' });
  let answerMs = DELIVERY.quickAnswerMs + 50;
  // The whole POST always takes 900 ms (a cold TLS handshake far away); only the answer varies.
  deps.post = async () => ({ statusCode: 200, headers: {}, body: '', durationMs: 900, answerMs });
  for (let n = 0; n < DELIVERY.quickAnswersToReturn; n++) await deliverBatch('slow', records([message(n % 10)]), deps);
  expect(state.health).toMatchObject({ lane: 'slow', quickAnswers: 0 });
  answerMs = DELIVERY.quickAnswerMs - 50;
  for (let n = 0; n < DELIVERY.quickAnswersToReturn; n++) await deliverBatch('slow', records([message(n % 10)]), deps);
  expect(state.health.lane).toBe('fast');
});

test('a delivery held for its rate slot and its SQS copy: one POST in the slot, the copy asks for a slot of its own', async () => {
  const { sent, deps, state } = world({ ...HEALTHY }, { ...subscription, rateLimit: 5 });
  const slotted = JSON.stringify({ ...(JSON.parse(message(1)) as ParsedDeliveryMessage), rateSlotAt: Date.now() - 50, notBefore: Date.now() - 50 });
  await deliverBatch('fast', records([slotted]), deps);
  expect(state.posts).toBe(1);
  expect(state.reserved).toBe(0);
  await deliverBatch('fast', records([slotted]), deps);
  expect(state.posts).toBe(1);
  // Asked for a new slot (the fake has none to give: held for a contended wait, no POST).
  expect(state.reserved).toBe(1);
  expect(sent).toHaveLength(1);
  expect(JSON.parse(sent[0]!.message.body)).not.toHaveProperty('rateSlotAt');
});

test('two deliveries held for the same millisecond slot (a limit above 1,000/s) both go', async () => {
  const { deps, state } = world({ ...HEALTHY }, { ...subscription, rateLimit: 2000 });
  const slot = Date.now() - 50;
  const held = (n: number) => JSON.stringify({ ...(JSON.parse(message(n)) as ParsedDeliveryMessage), rateSlotAt: slot, notBefore: slot });
  await deliverBatch('fast', records([held(1), held(2)]), deps);
  expect(state.posts).toBe(2);
  expect(state.reserved).toBe(0);
});

test('a retry of a delivery once held for a rate slot waits the whole schedule, hop after hop, not its old slot', async () => {
  const { sent, deps, state } = world({ ...HEALTHY }, { ...subscription, rateLimit: 5 });
  deps.retry = { schedule: [1800], jitter: 0, retryAfterMinSeconds: 1, retryAfterMaxSeconds: 60 };
  deps.post = async () => {
    state.posts += 1;
    return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
  };
  const start = Date.now();
  const slotted = { ...(JSON.parse(message(1)) as ParsedDeliveryMessage), rateSlotAt: start - 100 };
  await deliverBatch('fast', records([JSON.stringify(slotted)]), deps);
  expect(state.posts).toBe(1);
  const retry = JSON.parse(sent[0]!.message.body) as ParsedDeliveryMessage;
  expect(retry.rateSlotAt).toBeUndefined();
  expect(retry.notBefore! - start).toBeGreaterThanOrEqual(1_799_000);
  expect(sent[0]!.message.delaySeconds).toBe(900);

  // Back after its first 900 s hop: still 15 minutes early, so it hops again without a POST.
  const realNow = Date.now;
  Date.now = () => start + 900_000;
  try {
    sent.length = 0;
    await deliverBatch('fast', records([JSON.stringify(retry)]), deps);
  } finally {
    Date.now = realNow;
  }
  expect(state.posts).toBe(1);
  expect(sent).toHaveLength(1);
  expect(sent[0]!.message.delaySeconds).toBeGreaterThanOrEqual(899);
});

test('a delivery whose batch reads make it miss its rate slot by more than 250 ms takes a new slot instead of posting late', async () => {
  const { sent, deps, state } = world({ ...HEALTHY }, { ...subscription, rateLimit: 5 });
  const getState = deps.stores.getState;
  deps.stores.getState = async (keys) => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return getState(keys);
  };
  // 100 ms past its slot when received (admitted to go), 500 ms past it once the reads are done.
  const slotted = { ...(JSON.parse(message(1)) as ParsedDeliveryMessage), rateSlotAt: Date.now() - 100, notBefore: Date.now() - 100 };
  const failed = await deliverBatch('fast', records([JSON.stringify(slotted)]), deps);
  expect(failed).toEqual([]);
  expect(state.posts).toBe(0);
  expect(sent).toHaveLength(1);
  expect(sent[0]!.message.delaySeconds).toBe(0);
  const back = JSON.parse(sent[0]!.message.body) as ParsedDeliveryMessage;
  expect(back).toMatchObject({ webhookId: slotted.webhookId, attempt: 1, slotRetaken: true });
  expect(back.rateSlotAt).toBeUndefined();
  expect(back.notBefore).toBeUndefined();

  // Late again for the slot it got then: posted, late, rather than sent back again.
  sent.length = 0;
  const lateAgain = { ...back, rateSlotAt: Date.now() - 100, notBefore: Date.now() - 100 };
  await deliverBatch('fast', records([JSON.stringify(lateAgain)]), deps);
  expect(state.posts).toBe(1);
});

test('a message held for a rate slot further off than SQS can delay hops until its slot', async () => {
  const { sent, deps, state } = world({ ...HEALTHY }, { ...subscription, rateLimit: 1 });
  const slot = Date.now() + 2_000_000;
  const held = { ...(JSON.parse(message(1)) as ParsedDeliveryMessage), rateSlotAt: slot, notBefore: slot };
  await deliverBatch('fast', records([JSON.stringify(held)]), deps);
  expect(state.posts).toBe(0);
  expect(sent).toHaveLength(1);
  expect(sent[0]!.message.delaySeconds).toBe(900);
  expect(JSON.parse(sent[0]!.message.body)).toMatchObject({ rateSlotAt: slot });
});

/** SQS refuses wake-up messages while `refusing.wakes` is true; other messages go as usual. */
function refusingWakes(deps: DeliveryBatchDeps, sent: { queue: string; message: QueuedMessage }[]) {
  const refusing = { wakes: true };
  deps.send = async (queue, messages) => {
    if (refusing.wakes && messages.some((message) => message.body.includes('release-held'))) {
      return messages.map((_, index) => ({ index, reason: 'ServiceUnavailable' }));
    }
    sent.push(...messages.map((message) => ({ queue, message })));
    return [];
  };
  return refusing;
}

test('a wake-up whose next one SQS refuses fails, and received again it goes on releasing (it is not taken for stale)', async () => {
  const { state, sent, deps } = world({ ...HEALTHY });
  for (let n = 0; n < 30; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n % 10)) as ParsedDeliveryMessage);
  state.health.wakeAt = Date.now();
  const wake = JSON.stringify({ wake: 'release-held', projectId: 'p1', subscriptionId: 's1', wakeAt: state.health.wakeAt });
  const refusing = refusingWakes(deps, sent);

  expect(await deliverBatch('fast', records([wake]), deps)).toEqual(['m0']);
  expect(sent).toHaveLength(10);
  expect(state.parked.size).toBe(20);

  refusing.wakes = false;
  let next: string | undefined = wake;
  for (let round = 0; next && round < 10; round++) {
    sent.length = 0;
    expect(await deliverBatch('fast', records([next]), deps)).toEqual([]);
    next = sent.find(({ message }) => message.body.includes('release-held'))?.message.body;
  }
  expect(state.parked.size).toBe(0);
  expect(state.health.wakeAt).toBeUndefined();
});

test('deliveries parked while SQS refuses their wake-up are taken back and held on the queue until the cool-down ends', async () => {
  const openUntil = Date.now() + 30_000;
  const { state, sent, attempts, deps } = world({ ...HEALTHY, circuit: 'open', openUntil, consecutiveFailures: 5 });
  refusingWakes(deps, sent);
  expect(await deliverBatch('fast', records([message(1), message(2)]), deps)).toEqual([]);
  expect(state.parked.size).toBe(0);
  expect(state.health.wakeAt).toBeUndefined();
  expect(state.posts).toBe(0);
  expect(attempts).toEqual([]);
  expect(sent.map(({ message }) => (JSON.parse(message.body) as ParsedDeliveryMessage).webhookId)).toEqual(['msg_e1_s1', 'msg_e2_s1']);
  for (const { message } of sent) expect(message.delaySeconds).toBeGreaterThanOrEqual(29);
});

test('a probe that closes the circuit while SQS refuses the wake-up: the batch still succeeds, and the lease-end wake-up stays due', async () => {
  const { state, sent, deps } = world({ ...HEALTHY, circuit: 'open', openUntil: Date.now() - 1, cooldownSeconds: 30, consecutiveFailures: 5 });
  for (let n = 1; n < 9; n++) state.parked.set(`msg_e${n}_s1`, JSON.parse(message(n)) as ParsedDeliveryMessage);
  state.health.heldCount = 8;
  const leaseEnd = Date.now() + 15_000;
  state.health.wakeAt = leaseEnd;
  refusingWakes(deps, sent);
  expect(await deliverBatch('fast', records([message(9)]), deps)).toEqual([]);
  expect(state.posts).toBe(1);
  expect(state.health.circuit).toBe('closed');
  expect(state.health.wakeAt).toBe(leaseEnd);
  expect(state.parked.size).toBe(8);
});

describe('a pack of deliveries (one subscription, one message)', () => {
  const pack = (...ns: number[]) => packBody(ns.map(message));

  test('each delivery of a pack is POSTed and logged as if it had come alone, and the pack is acknowledged', async () => {
    const { state, attempts, deps } = world(HEALTHY);
    const failed = await deliverBatch('fast', records([pack(1, 2, 3), message(4)]), deps);
    expect(failed).toEqual([]);
    expect(state.posts).toBe(4);
    expect(attempts.map((attempt) => [attempt.webhookId, attempt.outcome])).toEqual([
      ['msg_e1_s1', 'delivered'],
      ['msg_e2_s1', 'delivered'],
      ['msg_e3_s1', 'delivered'],
      ['msg_e4_s1', 'delivered'],
    ]);
  });

  test('a pack with a malformed delivery goes towards the DLQ whole, and the other messages are still handled', async () => {
    const { state, deps } = world(HEALTHY);
    const bad = packBody([message(1), JSON.stringify({ webhookId: 'msg_e2_s1' })]);
    const failed = await deliverBatch('fast', records([bad, message(3)]), deps);
    expect(failed).toEqual(['m0']);
    expect(state.posts).toBe(1);
  });

  const ids = (list: { message: QueuedMessage }[]) => list.map(({ message: queued }) => (JSON.parse(queued.body) as { webhookId: string; attempt: number }));

  test('a delivery of a pack that cannot be handled goes on alone, unchanged; the rest of its pack is handled and the pack acknowledged', async () => {
    const { state, sent, attempts, deps } = world(HEALTHY);
    deps.post = async (request) => {
      state.posts += 1;
      if (request.headers['webhook-id'] === 'msg_e1_s1') throw new Error('the handler broke');
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    const failed = await deliverBatch('fast', records([pack(1, 2, 3), message(4)]), deps);
    expect(failed).toEqual([]);
    expect(state.posts).toBe(4);
    // 2, 3 and 4 failed and wait for their retry (attempt 2); 1 goes again as it came (attempt 1), in 30 s.
    expect(attempts.map((attempt) => attempt.webhookId).sort()).toEqual(['msg_e2_s1', 'msg_e3_s1', 'msg_e4_s1']);
    expect(ids(sent).map(({ webhookId, attempt }) => `${webhookId}#${attempt}`).sort()).toEqual(['msg_e1_s1#1', 'msg_e2_s1#2', 'msg_e3_s1#2', 'msg_e4_s1#2']);
    expect(sent.find(({ message: queued }) => queued.body.includes('msg_e1_s1'))!.message.delaySeconds).toBe(30);
  });

  test('a lone message that cannot be handled is received again (its receives counted towards the DLQ), as before packs', async () => {
    const { sent, deps } = world(HEALTHY);
    deps.post = async () => {
      throw new Error('the handler broke');
    };
    expect(await deliverBatch('fast', records([message(1)]), deps)).toEqual(['m0']);
    expect(sent).toEqual([]);
  });

  test('a re-send SQS refuses is sent once more alone; refused again, the pack is received again', async () => {
    for (const refusals of [1, 2]) {
      const { sent, deps } = world(HEALTHY);
      deps.post = async () => ({ statusCode: 500, headers: {}, body: '', durationMs: 5 });
      let refused = 0;
      deps.send = async (queue, messages) => {
        const unsent = messages.flatMap((queued, index) => (queued.body.includes('msg_e2_s1') && refused < refusals ? [{ index, reason: 'Throttled' }] : []));
        refused += unsent.length;
        messages.forEach((queued, index) => {
          if (!unsent.some((item) => item.index === index)) sent.push({ queue, message: queued });
        });
        return unsent;
      };
      const failed = await deliverBatch('fast', records([pack(1, 2, 3)]), deps);
      expect(failed).toEqual(refusals === 1 ? [] : ['m0']);
      expect(ids(sent).map(({ webhookId, attempt }) => `${webhookId}#${attempt}`).sort()).toEqual(
        refusals === 1 ? ['msg_e1_s1#2', 'msg_e2_s1#2', 'msg_e3_s1#2'] : ['msg_e1_s1#2', 'msg_e3_s1#2'],
      );
    }
  });

  test("one subscription's stores failing holds its own deliveries only: the rest of the batch is delivered", async () => {
    const limited = { ...subscription, _id: 's2', rateLimit: 5 } as Subscription;
    const { state, sent, deps } = world(HEALTHY);
    const getState = deps.stores.getState;
    deps.stores.getState = async (keys) => {
      const read = await getState(keys);
      read.subscriptions.set('s2', limited);
      return read;
    };
    deps.stores.reserveRate = async () => {
      throw new Error('Throttled');
    };
    const other = (n: number) => message(n).replace(/s1/g, 's2');
    const failed = await deliverBatch('fast', records([pack(1, 2), other(3), packBody([other(4), other(5)])]), deps);
    expect(failed).toEqual(['m1']);
    expect(state.posts).toBe(2);
    expect(ids(sent).map(({ webhookId }) => webhookId).sort()).toEqual(['msg_e4_s2', 'msg_e5_s2']);
  });

  test('a subscriber gets at most postsAtOncePerSubscription POSTs at once from one invocation', async () => {
    const { deps } = world(HEALTHY);
    let open = 0;
    let most = 0;
    deps.post = async () => {
      open += 1;
      most = Math.max(most, open);
      await new Promise((resolve) => setTimeout(resolve, 5));
      open -= 1;
      return { statusCode: 200, headers: {}, body: '', durationMs: 5 };
    };
    const tens = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(tens), deps)).toEqual([]);
    expect(most).toBe(DELIVERY.postsAtOncePerSubscription);
  });

  const withSlot = (n: number, slot: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...(JSON.parse(message(n)) as object), rateSlotAt: slot, notBefore: slot, ...extra });

  test('a rate-limited subscriber on time for its slots loses none to a wait for other POSTs (its slots pace it, not the POSTs-at-once cap)', async () => {
    const { state, sent, deps } = world(HEALTHY, { ...subscription, rateLimit: 20 } as Subscription);
    const start = Date.now() + 100;
    deps.post = async () => {
      state.posts += 1;
      await new Promise((resolve) => setTimeout(resolve, 600));
      return { statusCode: 200, headers: {}, body: '', durationMs: 600 };
    };
    const bodies = Array.from({ length: 18 }, (_, n) => withSlot(n, start + n * 50));
    expect(await deliverBatch('fast', records([packBody(bodies.slice(0, 9)), packBody(bodies.slice(9))]), deps)).toEqual([]);
    expect({ posts: state.posts, sentBack: sent.length }).toEqual({ posts: 18, sentBack: 0 });
  });

  test('admission failing after some of the group were decided sends each delivery on once', async () => {
    const { sent, deps } = world(HEALTHY, { ...subscription, rateLimit: 5 } as Subscription);
    deps.stores.reserveRate = async () => {
      throw new Error('Throttled');
    };
    // Held for its slot (decided) before the reservation for the other two throws.
    const early = withSlot(1, Date.now() + 5000, { notBefore: Date.now() - 1000 });
    expect(await deliverBatch('fast', records([packBody([early, message(2), message(3)])]), deps)).toEqual([]);
    expect(ids(sent).map(({ webhookId }) => webhookId).sort()).toEqual(['msg_e1_s1', 'msg_e2_s1', 'msg_e3_s1']);
  });

  test("a health or dead-streak write failing after the POSTs does not fail the batch (it would POST them all again)", async () => {
    const { state, sent, deps } = world(HEALTHY);
    deps.post = async () => {
      state.posts += 1;
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    deps.stores.saveHealth = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    deps.stores.resetDeadDeliveries = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    expect(await deliverBatch('fast', records([packBody([message(1), message(2)]), message(3)]), deps)).toEqual([]);
    expect(state.posts).toBe(3);
    expect(sent).toHaveLength(3);
  });

  test('a subscriber failing enough times in a row to open its circuit gets no more POSTs from the invocation: the rest come back in a second', async () => {
    const { state, sent, deps } = world(HEALTHY);
    deps.post = async () => {
      state.posts += 1;
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    // Ten start together, and each that ends starts the next until five have failed in a row:
    // at most four more start after that.
    expect(state.posts).toBeLessThanOrEqual(DELIVERY.postsAtOncePerSubscription + DELIVERY.circuitFailuresToOpen - 1);
    const back = ids(sent).filter(({ attempt }) => attempt === 1);
    expect(back).toHaveLength(27 - state.posts);
    expect(sent.filter(({ message: queued }) => queued.delaySeconds === 1)).toHaveLength(27 - state.posts);
    expect(state.health.circuit).toBe('open');
  });

  test('failures its health already counted bring the stop sooner: at 4 in a row, the first failure of the invocation ends its POSTs', async () => {
    const { state, sent, deps } = world({ ...HEALTHY, consecutiveFailures: DELIVERY.circuitFailuresToOpen - 1 });
    deps.post = async () => {
      state.posts += 1;
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    // The first wave of ten had started; none after it (counting this invocation alone, four more would).
    expect(state.posts).toBe(DELIVERY.postsAtOncePerSubscription);
    expect(sent.filter(({ message: queued }) => queued.delaySeconds === 1)).toHaveLength(27 - state.posts);
    expect(state.health.circuit).toBe('open');
  });

  test("a disabled subscriber's stored failures stop nothing: its deliveries are all logged skipped in one invocation, none POSTed or sent back", async () => {
    const { state, sent, attempts, deps } = world({ ...HEALTHY, consecutiveFailures: 7 }, { ...subscription, status: 'disabled' } as Subscription);
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    expect(state.posts).toBe(0);
    expect(sent).toEqual([]);
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(Array.from({ length: 27 }, () => 'skipped'));
  });

  test('a subscriber that misses the fast lane deadline in one wave gets the rest of its deliveries forwarded to the slow lane, without a POST', async () => {
    const { state, sent, attempts, deps } = world(HEALTHY);
    deps.answerTimeoutMs = { fast: DELIVERY.fastLaneAnswerMs };
    deps.post = async () => {
      state.posts += 1;
      return { headers: {}, body: '', durationMs: 560, answerMs: 500, error: 'no answer within 500 ms of the request', errorKind: 'timeout' };
    };
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    expect(state.posts).toBe(DELIVERY.postsAtOncePerSubscription);
    expect(attempts).toHaveLength(DELIVERY.postsAtOncePerSubscription);
    // All 27 go to the slow lane: the 10 POSTed as their retry at once, the 17 others as they came.
    expect(sent.map(({ queue }) => queue)).toEqual(Array(27).fill('slow'));
    expect(new Set(ids(sent).map(({ webhookId }) => webhookId)).size).toBe(27);
    expect(state.health.lane).toBe('slow');
  });
});
