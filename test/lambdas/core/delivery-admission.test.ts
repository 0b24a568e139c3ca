import { Attempt } from '../../../lambdas/core/attempt';
import {
  admissionOf,
  deadStreakAction,
  held,
  heldForSlot,
  isDue,
  nextReleasePace,
  releaseDelays,
  retakesSlot,
  splitBySlot,
  splitProbe,
  wakeDecision,
} from '../../../lambdas/core/delivery-admission';
import { DeliveryHealth, HEALTHY, healthView, rateBacklog, reserveRate } from '../../../lambdas/core/delivery-health';
import { ParsedDeliveryMessage } from '../../../lambdas/core/delivery-message';
import { Subscription } from '../../../lambdas/core/subscription';
import { DELIVERY } from '../../../lambdas/core/settings';

const now = Date.parse('2026-12-03T10:00:00Z');
const subscription: Subscription = {
  _id: 's1',
  id_project: 'p1',
  event: 'request.create',
  target: 'https://example.com/hook',
  secret: 'whsec_x',
  createdBy: 'u',
  createdAt: new Date(now).toISOString(),
  updatedAt: new Date(now).toISOString(),
  status: 'active',
} as Subscription;
const message: ParsedDeliveryMessage = {
  webhookId: 'msg_e_s1',
  eventId: 'e',
  event: 'request.create',
  projectId: 'p1',
  subscriptionId: 's1',
  publishedAt: new Date(now).toISOString(),
  payload: { id_project: 'p1' },
  attempt: 1,
  retry: 0,
};
const health = (extra: Partial<DeliveryHealth>): DeliveryHealth => ({ ...HEALTHY, ...extra });

describe('admissionOf', () => {
  test('a healthy subscription posts', () => {
    expect(admissionOf('fast', subscription, health({}), now, 15_000)).toEqual({ kind: 'post' });
  });

  test('deleted or disabled subscriptions go to the POST step, which logs them as skipped', () => {
    expect(admissionOf('fast', undefined, health({ lane: 'slow' }), now, 15_000)).toEqual({ kind: 'post' });
    expect(admissionOf('fast', { ...subscription, status: 'disabled' }, health({ circuit: 'open', openUntil: now + 60_000 }), now, 1)).toEqual({
      kind: 'post',
    });
  });

  test('a slow subscriber seen in the fast lane is forwarded to the slow lane; in the slow lane it posts', () => {
    expect(admissionOf('fast', subscription, health({ lane: 'slow' }), now, 15_000)).toEqual({ kind: 'forward', queue: 'slow' });
    expect(admissionOf('slow', subscription, health({ lane: 'slow' }), now, 15_000)).toEqual({ kind: 'post' });
  });

  test('an open circuit holds until its cool-down ends (with up to 2 s of spread)', () => {
    const open = health({ circuit: 'open', openUntil: now + 30_000 });
    expect(admissionOf('fast', subscription, open, now, 15_000, () => 0)).toEqual({ kind: 'hold', seconds: 30, reason: 'circuit-open' });
    expect(admissionOf('fast', subscription, open, now, 15_000, () => 0.99)).toEqual({ kind: 'hold', seconds: 32, reason: 'circuit-open' });
  });

  test('after the cool-down one probe may go, unless another holds the lease', () => {
    expect(admissionOf('slow', subscription, health({ circuit: 'open', openUntil: now - 1 }), now, 15_000)).toEqual({
      kind: 'probe',
      leaseMs: 15_000,
    });
    expect(admissionOf('slow', subscription, health({ circuit: 'open', openUntil: now - 1, probeUntil: now + 4_200 }), now, 15_000)).toEqual({
      kind: 'hold',
      seconds: 5,
      reason: 'probe-in-flight',
    });
  });
});

describe('the other decisions', () => {
  test('a message is due within half a second of its time', () => {
    expect(isDue(message, now)).toBe(true);
    expect(isDue({ ...message, notBefore: now + 500 }, now)).toBe(true);
    expect(isDue({ ...message, notBefore: now + 501 }, now)).toBe(false);
  });

  test('held messages are re-sent with their wait as delay and due time, in hops of SQS longest delay', () => {
    const [short, long] = held([message, message], 'fast', (index) => (index === 0 ? 2.2 : 3600), now, 900);
    expect(short).toEqual({ kind: 'send', queue: 'fast', message: { ...message, notBefore: now + 3000 }, delaySeconds: 3 });
    expect(long).toEqual({ kind: 'send', queue: 'fast', message: { ...message, notBefore: now + 3_600_000 }, delaySeconds: 900 });
  });

  test('a won probe claim lets the first message through; the rest wait past the lease', () => {
    expect(splitProbe(3, true, 15_000)).toEqual({ probe: true, waitSeconds: [16, 17] });
    expect(splitProbe(2, false, 15_000)).toEqual({ probe: false, waitSeconds: [15, 16] });
  });

  test('a delivery with a reserved slot goes at it without asking again; the others need a slot', () => {
    const split = splitBySlot(
      [
        message,
        { ...message, rateSlotAt: now - 100 },
        { ...message, rateSlotAt: now + 1200 },
        { ...message, rateSlotAt: now + 800 },
        { ...message, rateSlotAt: now - 2000 },
      ],
      now,
    );
    // Too late for its slot (its function lagged): a new slot, or late ones would bunch.
    expect(split).toEqual({ go: [1], soon: [3], early: [2], fresh: [0, 4] });
  });

  test('a delivery held for its slot comes back at most a second early and is due then', () => {
    const slot = now + 7_300;
    const disposition = heldForSlot('fast', message, slot, now, 900);
    expect(disposition).toEqual({ kind: 'send', queue: 'fast', message: { ...message, rateSlotAt: slot, notBefore: slot }, delaySeconds: 7 });
    if (disposition.kind !== 'send') throw new Error('sent');
    expect(isDue(disposition.message, now + 7_000)).toBe(true);
    expect(isDue(disposition.message, now + 6_000)).toBe(false);
  });

  test('auto-disable counts dead deliveries and clears a streak only when there is one', () => {
    const attempt = { outcome: 'delivered' } as Attempt;
    expect(deadStreakAction({ ...attempt, outcome: 'dead' }, subscription)).toBe('record-dead');
    expect(deadStreakAction(attempt, subscription)).toBe('none');
    expect(deadStreakAction(attempt, { ...subscription, consecutiveDeadCount: 2 })).toBe('reset');
    expect(deadStreakAction({ ...attempt, outcome: 'failed' }, { ...subscription, consecutiveDeadCount: 2 })).toBe('none');
  });
});

describe('rate limit (GCRA)', () => {
  test('every wanted delivery gets a slot: a burst of the tolerance now, the rest 1/rate apart', () => {
    const { tat, slots } = reserveRate(undefined, 5, 6, now, 500);
    // The clock may run 500 ms ahead: deliveries at +0, +200 and +400 go now.
    expect(slots.map((slot) => slot - now)).toEqual([0, 0, 0, 100, 300, 500]);
    expect(tat - now).toBe(1200);
    // The next reservation continues from the clock: nothing is handed out twice.
    expect(reserveRate(tat, 5, 2, now, 500).slots.map((slot) => slot - now)).toEqual([700, 900]);
  });

  test('over any 10 s window at most rate × (10 s + tolerance) + 1 slots', () => {
    const { slots } = reserveRate(undefined, 5, 1000, now, 500);
    let busiest = 0;
    for (let first = 0, last = 0; first < slots.length; first++) {
      while (last < slots.length && slots[last]! < slots[first]! + 10_000) last++;
      busiest = Math.max(busiest, last - first);
    }
    expect(busiest).toBeLessThanOrEqual(5 * 10.5 + 1);
    expect(slots.at(-1)! - now).toBeLessThan(200_000);
  });

  test("at the deployed tolerance a backlog's slots are 1/rate apart from the first: any second holds at most the rate", () => {
    const { slots } = reserveRate(undefined, 5, 1000, now, DELIVERY.rateLimitToleranceMs);
    expect(slots.slice(0, 6).map((slot) => slot - now)).toEqual([0, 200, 400, 600, 800, 1000]);
    let busiest = 0;
    for (let first = 0, last = 0; first < slots.length; first++) {
      while (last < slots.length && slots[last]! < slots[first]! + 1000) last++;
      busiest = Math.max(busiest, last - first);
    }
    expect(busiest).toBe(5);
  });

  test('a delivery late for its slot at its POST is sent back for another once, and never when it is a circuit probe', () => {
    const message = { webhookId: 'w', rateSlotAt: now - 300 } as ParsedDeliveryMessage;
    expect(retakesSlot({ message }, now)).toBe(true);
    expect(retakesSlot({ message: { ...message, rateSlotAt: now - 200 } }, now)).toBe(false);
    expect(retakesSlot({ message: { ...message, slotRetaken: true } }, now)).toBe(false);
    expect(retakesSlot({ message, probe: true }, now)).toBe(false);
    expect(retakesSlot({ message: { ...message, rateSlotAt: undefined } }, now)).toBe(false);
  });

  test('the backlog a clock holds: how many reserved slots are still ahead, and the last one', () => {
    const { tat } = reserveRate(undefined, 5, 6, now, 500);
    expect(rateBacklog(tat, 5, now, 500)).toEqual({ count: 3, until: now + 500 });
    expect(rateBacklog(tat, 5, now + 600, 500)).toEqual({ count: 0 });
    expect(rateBacklog(undefined, 5, now, 500)).toEqual({ count: 0 });
  });
});

describe('held deliveries (parked by an open circuit)', () => {
  const release = { batch: 10, perSecond: 10 };

  test('a wake-up during the cool-down comes back at its end', () => {
    expect(wakeDecision(health({ circuit: 'open', openUntil: now + 20_000 }), now, 15_000, release)).toEqual({ kind: 'later', at: now + 20_000 });
  });

  test('half-open, it releases one delivery (the probe) and looks again after its lease', () => {
    expect(wakeDecision(health({ circuit: 'open', openUntil: now - 1 }), now, 15_000, release)).toEqual({
      kind: 'release',
      count: 1,
      nextAt: now + 15_000,
      probe: true,
    });
  });

  test('closed, the backlog is released paced: a batch, spread over a second at 10/s, then the next', () => {
    expect(wakeDecision(health({}), now, 15_000, release)).toEqual({ kind: 'release', count: 10, nextAt: now + 1000 });
    expect(wakeDecision(health({}), now, 15_000, { batch: 10, perSecond: 2 })).toEqual({ kind: 'release', count: 10, nextAt: now + 5000 });
    expect(releaseDelays(5, 2)).toEqual([0, 0, 1, 1, 2]);
    expect(wakeDecision(health({}), now, 15_000, { batch: 10, perSecond: 80 })).toEqual({ kind: 'release', count: 80, nextAt: now + 1000 });
  });

  test('the release ramps up: doubled while answers stay good, kept while they fail, capped', () => {
    expect(nextReleasePace(10, health({}), 100)).toBe(20);
    expect(nextReleasePace(80, health({}), 100)).toBe(100);
    expect(nextReleasePace(40, health({ consecutiveFailures: 1 }), 100)).toBe(40);
  });

  test('the API counts them, with the rate limit backlog, each with when it goes', () => {
    const open = health({ circuit: 'open', openUntil: now + 30_000, heldCount: 4 });
    expect(healthView(open, now).held).toEqual([{ reason: 'circuit-open', count: 4, until: new Date(now + 30_000).toISOString() }]);
    const limited = health({ rateTat: now + 10_700 });
    expect(healthView(limited, now, 5, 500).held).toEqual([{ reason: 'rate-limit', count: 50, until: new Date(now + 10_000).toISOString() }]);
    expect(healthView(health({}), now, 5)).not.toHaveProperty('held');
  });
});
