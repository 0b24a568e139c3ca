// The batch use case over in-memory stores and queues (the end-to-end tests run it on the local
// stack): what it sends where, for held, parked and released deliveries, rate slots and lanes.
import { DeliveryBatchDeps, QueuedMessage, deliverBatch } from '../../../lambdas/core/delivery-batch';
import { HEALTHY } from '../../../lambdas/core/delivery-health';
import { ParsedDeliveryMessage } from '../../../lambdas/core/delivery-message';
import { DELIVERY } from '../../../lambdas/core/settings';
import { Subscription } from '../../../lambdas/core/subscription';
import { message, records, subscription, world } from '../../support/delivery-batch-world';

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
