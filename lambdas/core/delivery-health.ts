import type { DeliveryLane } from './settings';

/**
 * A subscription's delivery health: its circuit breaker, its lane and its rate-limit clock. It
 * lives apart from the subscription (its own item), so the delivery function can change it
 * without racing the API's edits of the subscription.
 */
export interface DeliveryHealth {
  /** Failed attempts in a row (errors, timeouts, non-2xx); a success clears it. */
  consecutiveFailures: number;
  /** closed: deliver; open: hold deliveries until `openUntil`, then let one probe through. */
  circuit: 'closed' | 'open';
  /** Epoch ms the open circuit's cool-down ends. */
  openUntil?: number;
  /** The cool-down used when the circuit last opened, doubled at each failed probe. */
  cooldownSeconds?: number;
  /** Epoch ms until which one delivery holds the half-open circuit's single probe. */
  probeUntil?: number;
  lane: DeliveryLane;
  /** Quick answers in a row while in the slow lane. */
  quickAnswers: number;
  /**
   * The slow-lane spells in a row that followed a return to the fast lane within
   * `laneRepeatWindowSeconds` (1 for a first one): each doubles the quick answers the next return takes.
   */
  slowSpells?: number;
  /** Epoch ms of the last return to the fast lane. */
  fastSince?: number;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  /** Rate limit clock (GCRA's theoretical arrival time), epoch ms. */
  rateTat?: number;
  /** Deliveries parked while the circuit is open (counted by the held-delivery store). */
  heldCount?: number;
  /** Epoch ms of the one wake-up message that releases the parked deliveries, if one is due. */
  wakeAt?: number;
  /** Optimistic-lock version of the stored item. */
  version: number;
}

export const HEALTHY: DeliveryHealth = { consecutiveFailures: 0, circuit: 'closed', lane: 'fast', quickAnswers: 0, version: 0 };

/** How the breaker and lanes are tuned (from `DELIVERY` in lambdas/core/settings.ts). */
export interface HealthSettings {
  circuitFailuresToOpen: number;
  circuitCooldownSeconds: number;
  circuitMaxCooldownSeconds: number;
  quickAnswerMs: number;
  quickAnswersToReturn: number;
  /** The most quick answers a return ever takes, however often the subscriber went back. */
  quickAnswersToReturnMax: number;
  /** A move to the slow lane this soon after a return to the fast one makes the next return twice as hard. */
  laneRepeatWindowSeconds: number;
}

/**
 * Quick answers in a row that bring a subscription in the slow lane back: `quickAnswersToReturn`
 * after a first spell, doubled for each spell that followed a return within the window, so a
 * receiver that answers quickly only to hang again holds the fast lane's pollers ever more rarely.
 */
export function quickAnswersToReturn(health: Pick<DeliveryHealth, 'slowSpells'>, settings: HealthSettings): number {
  const doublings = Math.max(0, (health.slowSpells ?? 1) - 1);
  return Math.min(settings.quickAnswersToReturnMax, settings.quickAnswersToReturn * 2 ** Math.min(doublings, 30));
}

/** One POST's outcome as far as health is concerned. */
export interface PostSignal {
  ok: boolean;
  /** How long the receiver took to answer: after DNS, connect and TLS where the request was sent. */
  durationMs: number;
  /** The fast lane gave up waiting: the subscriber moves to the slow lane. */
  fastLaneTimeout?: boolean;
  /** The half-open circuit's single probe. */
  probe?: boolean;
  at: number;
}

/** The circuit state the API shows: `half-open` once the cool-down has ended. */
export type CircuitView = 'closed' | 'open' | 'half-open';

export function circuitView(health: DeliveryHealth, now: number): CircuitView {
  if (health.circuit === 'closed') return 'closed';
  return (health.openUntil ?? 0) <= now ? 'half-open' : 'open';
}

/** What a delivery of this subscription may do now. */
export type Gate =
  | { kind: 'deliver' }
  /** The circuit is open: wait this long, without a POST and without spending an attempt. */
  | { kind: 'wait'; seconds: number; reason: 'circuit-open' | 'probe-in-flight' }
  /** The cool-down is over: this delivery may be the one probe, if it wins the claim. */
  | { kind: 'probe' };

export function gateOf(health: DeliveryHealth, now: number, random: () => number = Math.random): Gate {
  if (health.circuit === 'closed') return { kind: 'deliver' };
  const openUntil = health.openUntil ?? 0;
  if (openUntil > now) {
    // A little spread so the held deliveries do not all come back in the same second.
    return { kind: 'wait', seconds: Math.ceil((openUntil - now) / 1000) + Math.floor(random() * 3), reason: 'circuit-open' };
  }
  if ((health.probeUntil ?? 0) > now) {
    return { kind: 'wait', seconds: Math.max(1, Math.ceil((health.probeUntil! - now) / 1000)), reason: 'probe-in-flight' };
  }
  return { kind: 'probe' };
}

/** A change worth a metric and a log line. */
export type HealthTransition = 'circuit-opened' | 'circuit-closed' | 'circuit-reopened' | 'lane-slow' | 'lane-fast';

/**
 * Folds a batch's POST outcomes for one subscription (in order) into its health. Opens the
 * circuit after the configured failures in a row; a failure while half-open (the probe) reopens
 * it with twice the cool-down; a success closes it. A fast-lane timeout moves the subscription
 * to the slow lane; quick answers in a row there bring it back ({@link quickAnswersToReturn}: more
 * each time it went back soon after a return).
 */
export function foldSignals(
  health: DeliveryHealth,
  signals: PostSignal[],
  settings: HealthSettings,
): { health: DeliveryHealth; transitions: HealthTransition[] } {
  const next: DeliveryHealth = { ...health };
  const transitions: HealthTransition[] = [];
  for (const signal of signals) {
    const iso = new Date(signal.at).toISOString();
    // A timeout from before the last return (a batch that read the health before it, folding
    // again after a conflicting save) is not a new spell: the spell it ended is over.
    const beforeReturn = next.fastSince !== undefined && signal.at < next.fastSince;
    if (signal.fastLaneTimeout && next.lane === 'fast' && !beforeReturn) {
      const soonAfterReturn = next.fastSince !== undefined && signal.at - next.fastSince < settings.laneRepeatWindowSeconds * 1000;
      next.lane = 'slow';
      next.quickAnswers = 0;
      next.slowSpells = soonAfterReturn ? (next.slowSpells ?? 1) + 1 : 1;
      delete next.fastSince;
      transitions.push('lane-slow');
    }
    if (signal.ok) {
      next.lastSuccessAt = iso;
      next.consecutiveFailures = 0;
      if (next.circuit === 'open') {
        next.circuit = 'closed';
        delete next.openUntil;
        delete next.probeUntil;
        delete next.cooldownSeconds;
        transitions.push('circuit-closed');
      }
      if (next.lane === 'slow' && !signal.fastLaneTimeout) {
        next.quickAnswers = signal.durationMs < settings.quickAnswerMs ? next.quickAnswers + 1 : 0;
        if (next.quickAnswers >= quickAnswersToReturn(next, settings)) {
          next.lane = 'fast';
          next.quickAnswers = 0;
          next.fastSince = signal.at;
          transitions.push('lane-fast');
        }
      }
      continue;
    }
    next.lastFailureAt = iso;
    next.consecutiveFailures += 1;
    if (next.lane === 'slow' && !signal.fastLaneTimeout) next.quickAnswers = 0;
    if (next.circuit === 'open' && signal.probe) {
      // The probe failed: the circuit reopens with a longer cool-down.
      const cooldown = Math.min(settings.circuitMaxCooldownSeconds, (next.cooldownSeconds ?? settings.circuitCooldownSeconds) * 2);
      next.cooldownSeconds = cooldown;
      next.openUntil = signal.at + cooldown * 1000;
      delete next.probeUntil;
      transitions.push('circuit-reopened');
    } else if (next.circuit === 'closed' && next.consecutiveFailures >= settings.circuitFailuresToOpen) {
      next.circuit = 'open';
      next.cooldownSeconds = settings.circuitCooldownSeconds;
      next.openUntil = signal.at + settings.circuitCooldownSeconds * 1000;
      transitions.push('circuit-opened');
    }
  }
  return { health: next, transitions };
}

/**
 * Whether a folded health differs enough from the stored one to be written: any change but
 * the timestamps, or a last success older than a minute (a busy healthy subscription then
 * costs one health write a minute, not one per batch).
 */
export function healthNeedsWrite(before: DeliveryHealth, after: DeliveryHealth): boolean {
  const { lastSuccessAt: a1, lastFailureAt: a2, version: _v1, rateTat: _r1, heldCount: _h1, wakeAt: _w1, ...restBefore } = before;
  const { lastSuccessAt: b1, lastFailureAt: b2, version: _v2, rateTat: _r2, heldCount: _h2, wakeAt: _w2, ...restAfter } = after;
  if (JSON.stringify(sorted(restBefore)) !== JSON.stringify(sorted(restAfter))) return true;
  if (b2 !== a2) return true;
  if (b1 && (!a1 || Date.parse(b1) - Date.parse(a1) >= 60_000)) return true;
  return false;
}

function sorted(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A per-subscription rate limit as GCRA (the generic cell rate algorithm): the clock `tat` moves
 * on by 1/rate per delivery, and a delivery may go while the clock is at most `toleranceMs`
 * ahead of its time. Over any window W this lets through at most rate·(W + tolerance) + 1
 * deliveries. Every one of `wanted` gets its slot here, now or later, and the clock moves past
 * all of them: a delivery that must wait is sent again for exactly its slot and goes then
 * without asking again, so a backlog of N costs O(N) messages, not O(N²) (docs/design.md §3.3).
 * Returns the new clock and each delivery's slot (epoch ms; `now` for those that go at once).
 */
export function reserveRate(
  tat: number | undefined,
  rate: number,
  wanted: number,
  now: number,
  toleranceMs: number,
): { tat: number; slots: number[] } {
  const interval = 1000 / rate;
  let clock = Math.max(tat ?? now, now);
  const slots: number[] = [];
  for (let index = 0; index < wanted; index++) {
    slots.push(Math.max(now, Math.ceil(clock - toleranceMs)));
    clock += interval;
  }
  return { tat: clock, slots };
}

/** How many deliveries a rate clock still has reserved after `now`, and when the last one goes. */
export function rateBacklog(tat: number | undefined, rate: number | undefined, now: number, toleranceMs: number): { count: number; until?: number } {
  if (!rate || tat === undefined) return { count: 0 };
  const lastSlot = tat - 1000 / rate - toleranceMs;
  if (lastSlot <= now) return { count: 0 };
  return { count: Math.ceil((lastSlot - now) / (1000 / rate)), until: Math.ceil(lastSlot) };
}

/** Deliveries waiting for one reason, and when the last of them goes (when known). */
export interface HeldView {
  reason: 'circuit-open' | 'rate-limit';
  count: number;
  until?: string;
}

/** The health the API shows with a subscription. */
export interface HealthView {
  circuit: CircuitView;
  consecutiveFailures: number;
  lane: DeliveryLane;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  /** When the open circuit lets its next probe through. */
  openUntil?: string;
  /** Deliveries held now, by reason (absent when none are). */
  held?: HeldView[];
}

export function healthView(health: DeliveryHealth, now: number, rateLimit?: number, toleranceMs = 0): HealthView {
  const held: HeldView[] = [];
  if ((health.heldCount ?? 0) > 0) {
    // Parked deliveries go when the circuit lets them (its cool-down, then paced).
    const until = health.circuit === 'open' ? health.openUntil : health.wakeAt;
    held.push({ reason: 'circuit-open', count: health.heldCount!, ...(until ? { until: new Date(until).toISOString() } : {}) });
  }
  const backlog = rateBacklog(health.rateTat, rateLimit, now, toleranceMs);
  if (backlog.count > 0) held.push({ reason: 'rate-limit', count: backlog.count, until: new Date(backlog.until!).toISOString() });
  return {
    circuit: circuitView(health, now),
    consecutiveFailures: health.consecutiveFailures,
    lane: health.lane,
    ...(health.lastSuccessAt ? { lastSuccessAt: health.lastSuccessAt } : {}),
    ...(health.lastFailureAt ? { lastFailureAt: health.lastFailureAt } : {}),
    ...(health.circuit === 'open' && health.openUntil ? { openUntil: new Date(health.openUntil).toISOString() } : {}),
    ...(held.length > 0 ? { held } : {}),
  };
}
