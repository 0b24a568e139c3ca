import { Attempt } from '../../../lambdas/core/attempt';
import { admissionOf, deadStreakAction, held, isDue, rateLimitedWaits, splitProbe } from '../../../lambdas/core/delivery-admission';
import { DeliveryHealth, HEALTHY } from '../../../lambdas/core/delivery-health';
import { ParsedDeliveryMessage } from '../../../lambdas/core/delivery-message';
import { Subscription } from '../../../lambdas/core/subscription';

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

  test('rate-limited messages wait for their slot, at least a second', () => {
    expect(rateLimitedWaits([200, 2_400], 3)).toEqual([1, 2.4, 1]);
  });

  test('auto-disable counts dead deliveries and clears a streak only when there is one', () => {
    const attempt = { outcome: 'delivered' } as Attempt;
    expect(deadStreakAction({ ...attempt, outcome: 'dead' }, subscription)).toBe('record-dead');
    expect(deadStreakAction(attempt, subscription)).toBe('none');
    expect(deadStreakAction(attempt, { ...subscription, consecutiveDeadCount: 2 })).toBe('reset');
    expect(deadStreakAction({ ...attempt, outcome: 'failed' }, { ...subscription, consecutiveDeadCount: 2 })).toBe('none');
  });
});
