import type { DeliveryLane } from './settings';
import type { Attempt } from './attempt';
import { Disposition, deferred } from './deliver';
import { DeliveryHealth, HealthTransition, gateOf } from './delivery-health';
import type { ParsedDeliveryMessage } from './delivery-message';
import type { Subscription } from './subscription';

/** Messages not yet due come back within this much of their time rather than hopping again. */
export const DUE_SLACK_MS = 500;

/** True when a message may be POSTed now (its wait, if any, is over or nearly so). */
export const isDue = (message: ParsedDeliveryMessage, now: number): boolean =>
  message.notBefore === undefined || message.notBefore <= now + DUE_SLACK_MS;

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

/** The waits of the deliveries a rate limit did not let through now, from their due times. */
export const rateLimitedWaits = (dueInMs: number[], count: number): number[] =>
  Array.from({ length: count }, (_, index) => Math.max(1, (dueInMs[index] ?? 1000) / 1000));

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
