// The delivery batch use case's world for its tests: in-memory stores and queues, one subscription,
// and the messages and records the event source would hand over.
import { Attempt } from '../../lambdas/core/attempt';
import { DeliveryBatchDeps, QueuedMessage } from '../../lambdas/core/delivery-batch';
import { DeliveryHealth } from '../../lambdas/core/delivery-health';
import { ParsedDeliveryMessage } from '../../lambdas/core/delivery-message';
import { DELIVERY } from '../../lambdas/core/settings';
import { Subscription } from '../../lambdas/core/subscription';

export const subscription = {
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

export function world(health: DeliveryHealth, sub: Subscription = subscription) {
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

export const message = (n: number): string =>
  JSON.stringify({
    webhookId: `msg_e${n}_s1`,
    eventId: `e${n}`,
    event: 'request.create',
    projectId: 'p1',
    subscriptionId: 's1',
    publishedAt: `2026-12-03T10:00:0${n}Z`,
    payload: { id_project: 'p1', n },
  });
export const records = (bodies: string[]) => bodies.map((body, index) => ({ messageId: `m${index}`, receiptHandle: `r${index}`, body }));
