import type { DeliveryLane } from './settings';
import type { Attempt } from './attempt';
import { Disposition, deferred } from './deliver';
import { DeliveryHealth, HealthTransition, gateOf } from './delivery-health';
import type { ParsedDeliveryMessage } from './delivery-message';
import type { Subscription } from './subscription';

/** Messages not yet due come back within this much of their time rather than hopping again. */
export const DUE_SLACK_MS = 500;

/**
 * SQS delays are whole seconds: a delivery held for a rate slot is sent back up to a second
 * before it and waits that little in the function, so it goes at its slot, not up to a second
 * late (late deliveries would bunch and break the limit over short windows).
 */
export const SLOT_SLACK_MS = 1000;

/**
 * A delivery that reaches its reserved slot later than this (its function was busy, its queue
 * lagged, its batch's reads were slow) asks for a new slot instead: posting late deliveries at
 * once would bunch them. Slots are 1/rate apart, so with a lateness of at most L a window W
 * holds at most rate·(W + L) + 1 POSTs: 5·1.25 + 1 in a second at 5/s. Checked when the batch
 * is admitted and again just before each POST ({@link lateForSlot}).
 */
export const LATE_SLOT_MS = 250;

/** True when a delivery holding a slot is more than {@link LATE_SLOT_MS} past it. */
export const lateForSlot = (message: ParsedDeliveryMessage, now: number): boolean =>
  message.rateSlotAt !== undefined && message.rateSlotAt < now - LATE_SLOT_MS;

/**
 * Whether a delivery that missed its slot by the time of its POST (its batch's reads and writes
 * took that long) is sent back for another rather than posted late: once per delivery (a second
 * miss posts it, so sustained lag cannot starve it), and never a circuit's probe (one request
 * cannot bunch, and its probe lease would hold the rest back).
 */
export const retakesSlot = (job: { message: ParsedDeliveryMessage; probe?: boolean }, now: number): boolean =>
  !job.probe && !job.message.slotRetaken && lateForSlot(job.message, now);

/** The delivery sent back at once without its slot, to take a new one ({@link retakesSlot}). */
export function retakeSlot(queue: DeliveryLane, message: ParsedDeliveryMessage): Disposition {
  const { rateSlotAt: _slot, notBefore: _notBefore, ...rest } = message;
  return { kind: 'send', queue, message: { ...rest, slotRetaken: true }, delaySeconds: 0 };
}

/** True when a message may be handled now (its wait, if any, is over or nearly so). */
export const isDue = (message: ParsedDeliveryMessage, now: number): boolean =>
  message.notBefore === undefined || message.notBefore <= now + (message.rateSlotAt === undefined ? DUE_SLACK_MS : SLOT_SLACK_MS);

/**
 * A delivery held for its rate slot: due at the slot, sent back at most a second before it
 * (in hops of SQS's longest delay), carrying the slot so it does not reserve again.
 */
export function heldForSlot(
  queue: DeliveryLane,
  message: ParsedDeliveryMessage,
  slot: number,
  now: number,
  maxDelaySeconds: number,
): Disposition {
  return {
    kind: 'send',
    queue,
    message: { ...message, rateSlotAt: slot, notBefore: slot },
    delaySeconds: Math.min(maxDelaySeconds, Math.max(0, Math.floor((slot - now) / 1000))),
  };
}

/**
 * What one subscription's due messages of a batch may do, before any rate limit:
 * - `post`: POST them (deleted, disabled or changed subscriptions included: the POST step logs
 *   them as skipped without a request);
 * - `forward`: the subscription has moved to the slow lane; send them there, without a POST;
 * - `hold`: its circuit is open (or its probe is out); send them again after `seconds`;
 * - `probe`: the cool-down is over; one of them may be the probe, if it wins the claim.
 */
export type Admission =
  | { kind: 'post' }
  | { kind: 'forward'; queue: DeliveryLane }
  | { kind: 'hold'; seconds: number; reason: 'circuit-open' | 'probe-in-flight' }
  | { kind: 'probe'; leaseMs: number };

/**
 * Decides a subscription's {@link Admission} in a lane from its stored health. `probeLeaseMs`
 * is how long a claimed probe holds the half-open circuit (the lane's POST deadline and a margin).
 */
export function admissionOf(
  lane: DeliveryLane,
  subscription: Subscription | undefined,
  health: DeliveryHealth,
  now: number,
  probeLeaseMs: number,
  random: () => number = Math.random,
): Admission {
  if (!subscription || subscription.status !== 'active') return { kind: 'post' };
  if (lane === 'fast' && health.lane === 'slow') return { kind: 'forward', queue: 'slow' };
  const gate = gateOf(health, now, random);
  if (gate.kind === 'wait') return { kind: 'hold', seconds: gate.seconds, reason: gate.reason };
  if (gate.kind === 'probe') return { kind: 'probe', leaseMs: probeLeaseMs };
  return { kind: 'post' };
}

/** The dispositions of messages sent on without a POST, each after `seconds(index)`. */
export function held(
  messages: ParsedDeliveryMessage[],
  queue: DeliveryLane,
  seconds: (index: number) => number,
  now: number,
  maxDelaySeconds: number,
): Disposition[] {
  return messages.map((message, index) => deferred(queue, message, seconds(index), now, maxDelaySeconds));
}

/**
 * How a half-open circuit's messages are split: with the claim won, the first is the probe and
 * the others wait until its lease has run out (one second apart); without it, all wait.
 */
export function splitProbe(count: number, claimed: boolean, leaseMs: number): { probe: boolean; waitSeconds: number[] } {
  if (!claimed || count === 0) return { probe: false, waitSeconds: Array.from({ length: count }, (_, index) => leaseMs / 1000 + index) };
  return { probe: true, waitSeconds: Array.from({ length: count - 1 }, (_, index) => leaseMs / 1000 + 1 + index) };
}

/**
 * Splits a subscription's admitted deliveries under its rate limit. One whose slot was reserved
 * when it was held goes at its slot without asking again: now (`go`), after a wait of under
 * {@link SLOT_SLACK_MS} in the function (`soon`), or held again if it came back earlier than
 * that (`early`). The others, and those more than {@link LATE_SLOT_MS} late for their slot, need
 * a slot each from the rate clock (`fresh`, in order).
 */
export function splitBySlot(
  messages: ParsedDeliveryMessage[],
  now: number,
): { go: number[]; soon: number[]; early: number[]; fresh: number[] } {
  const split = { go: [] as number[], soon: [] as number[], early: [] as number[], fresh: [] as number[] };
  messages.forEach((message, index) => {
    if (message.rateSlotAt === undefined || lateForSlot(message, now)) split.fresh.push(index);
    else if (message.rateSlotAt <= now) split.go.push(index);
    else if (message.rateSlotAt <= now + SLOT_SLACK_MS) split.soon.push(index);
    else split.early.push(index);
  });
  return split;
}

/** Waits (at most {@link SLOT_SLACK_MS}) until a delivery's reserved rate slot, if it is ahead. */
export function untilSlot(message: ParsedDeliveryMessage, now: number): Promise<void> {
  const wait = Math.min(SLOT_SLACK_MS, (message.rateSlotAt ?? now) - now);
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
}

/**
 * When deliveries that lost every race for the rate clock ask again: in a second, spread by
 * the rate so they do not all come back together.
 */
export const contendedWaits = (count: number, rate: number): number[] =>
  Array.from({ length: count }, (_, index) => 1 + index / rate);

/** What a subscription's wake-up does: send itself again for later, or release held deliveries. */
export type WakeDecision =
  | { kind: 'later'; at: number }
  /** `probe`: the one delivery released is the half-open circuit's probe; the ramp has not begun. */
  | { kind: 'release'; count: number; nextAt: number; probe?: true };

/**
 * Decides a wake-up of parked deliveries from the subscription's health: while the circuit's
 * cool-down lasts it comes back at its end; half-open, it releases one delivery (the probe) and
 * looks again once the probe's lease is over; closed, it releases a second's worth at the
 * release's pace (`perSecond`, at least a batch) and comes back when they have gone, so a
 * recovered endpoint gets its backlog paced, not all at once.
 */
export function wakeDecision(
  health: DeliveryHealth,
  now: number,
  probeLeaseMs: number,
  release: { batch: number; perSecond: number },
): WakeDecision {
  const gate = gateOf(health, now, () => 0);
  if (gate.kind === 'wait') return { kind: 'later', at: now + gate.seconds * 1000 };
  if (gate.kind === 'probe') return { kind: 'release', count: 1, nextAt: now + probeLeaseMs, probe: true };
  return drainDecision(now, release);
}

/** A release round at `release.perSecond`, whatever the circuit: at least a batch, a second's worth. */
export function drainDecision(now: number, release: { batch: number; perSecond: number }): WakeDecision {
  const count = Math.max(release.batch, Math.floor(release.perSecond));
  return { kind: 'release', count, nextAt: now + Math.ceil((count / release.perSecond) * 1000) };
}

/**
 * The pace of a release's next round: doubled while the subscriber's answers stay good (no
 * failure since the last success), kept while they do not, never above `max`. An open circuit
 * stops the release; it starts again from the first pace.
 */
export const nextReleasePace = (pace: number, health: DeliveryHealth, max: number): number =>
  health.consecutiveFailures === 0 ? Math.min(max, pace * 2) : pace;

/** The delays, in whole seconds, that spread a released batch at `perSecond`. */
export const releaseDelays = (count: number, perSecond: number): number[] =>
  Array.from({ length: count }, (_, index) => Math.floor(index / perSecond));

/** SQS's delay for a message due at `at` (what is longer hops). */
export const delayUntil = (at: number, now: number, maxDelaySeconds: number): number =>
  Math.min(maxDelaySeconds, Math.max(0, Math.ceil((at - now) / 1000)));

/** The metric each health transition is counted under. */
export const TRANSITION_METRICS: Record<HealthTransition, string> = {
  'circuit-opened': 'CircuitOpened',
  'circuit-reopened': 'CircuitReopened',
  'circuit-closed': 'CircuitClosed',
  'lane-slow': 'MovedToSlowLane',
  'lane-fast': 'MovedToFastLane',
};

/** What auto-disable does with one attempt: count a dead delivery, clear the streak, or nothing. */
export type DeadStreakAction = 'record-dead' | 'reset' | 'none';

/**
 * Auto-disable's bookkeeping: a dead delivery counts towards the streak; a delivery clears it,
 * but only when there is one (so a healthy subscription costs no write).
 */
export function deadStreakAction(attempt: Attempt, subscription: Subscription | undefined): DeadStreakAction {
  if (attempt.outcome === 'dead') return 'record-dead';
  if (attempt.outcome === 'delivered' && (subscription?.consecutiveDeadCount ?? 0) > 0) return 'reset';
  return 'none';
}
