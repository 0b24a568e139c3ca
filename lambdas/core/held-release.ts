/**
 * Deliveries held by an open circuit (docs/design.md §3.19): parked in the table, and released,
 * paced, by a wake-up message scheduled for the end of the cool-down (or at once by a health
 * reset). Split from `delivery-batch.ts`, which calls these for each batch.
 */
import type { DeliveryLane } from './settings';
import { delayUntil, drainDecision, nextReleasePace, releaseDelays, wakeDecision } from './delivery-admission';
import type { DeliveryBatchDeps, QueuedMessage } from './delivery-batch';
import type { DeliveryHealth } from './delivery-health';
import type { ParsedDeliveryMessage, WakeMessage } from './delivery-message';
import { stringifyJson } from './json-text';
import type { Subscription } from './subscription';

/**
 * Parks the deliveries an open circuit holds, so a health reset can release them at once and a
 * closing circuit can release them paced (docs/design.md §3.19), and makes sure one wake-up is
 * due at the end of the cool-down. False if they could not be parked: they are then held on the
 * queue as before, delayed to the cool-down's end.
 */
export async function parked(
  lane: DeliveryLane,
  messages: ParsedDeliveryMessage[],
  subscription: Subscription,
  until: number,
  now: number,
  deps: DeliveryBatchDeps,
): Promise<boolean> {
  const { id_project: projectId, _id: subscriptionId } = subscription;
  let keys: string[];
  try {
    keys = await deps.stores.park(projectId, subscriptionId, messages, now);
  } catch (error) {
    deps.report.warn('could not park held deliveries; they wait on the queue instead', { subscriptionId, error: String(error) });
    return false;
  }
  try {
    await sendWake(lane, projectId, subscriptionId, undefined, until, deps);
    return true;
  } catch (error) {
    // Parked with no wake-up due, they would wait for traffic that may never come (until their
    // TTL): they are taken back and wait on the queue instead.
    deps.report.warn('could not schedule the release of held deliveries; they wait on the queue instead', { subscriptionId, error: String(error) });
    await deps.stores.removeHeld(projectId, subscriptionId, keys).catch((removeError: unknown) =>
      // Left parked as well: released with the others when the circuit closes (a duplicate, not a loss).
      deps.report.warn('could not take back parked deliveries', { subscriptionId, error: String(removeError) }),
    );
    return false;
  }
}

/**
 * Sends the wake-up of a subscription's parked deliveries for `at`, if this caller wins its
 * schedule (`expected`: the wake-up being replaced; undefined when none may be due). `pace`:
 * the release's pace it goes on at; absent, a release starts at the first pace.
 *
 * Not sent, it throws, and the schedule goes back to `restore` (by default the wake-up it
 * replaced): a caller that is itself a wake-up fails, and its message, received again, must
 * still find itself due rather than stale, or the deliveries it holds would wait with no
 * wake-up at all.
 */
export async function sendWake(
  lane: DeliveryLane,
  projectId: string,
  subscriptionId: string,
  expected: number | undefined,
  at: number,
  deps: DeliveryBatchDeps,
  pace?: number,
  restore: number | undefined = expected,
): Promise<void> {
  const now = Date.now();
  if (!(await deps.stores.scheduleWake(projectId, subscriptionId, expected, at, now))) return;
  const wake: WakeMessage = { wake: 'release-held', projectId, subscriptionId, wakeAt: at, ...(pace === undefined ? {} : { pace }) };
  const unsent = await deps.send(lane, [{ body: stringifyJson(wake), delaySeconds: delayUntil(at, now, deps.maxDelaySeconds), groupId: projectId }]);
  if (unsent.length > 0) {
    if (restore === undefined) await deps.stores.clearWake(projectId, subscriptionId, at);
    else await deps.stores.scheduleWake(projectId, subscriptionId, at, restore, now);
    throw new Error(`wake-up not sent: ${unsent[0]!.reason}`);
  }
}

/**
 * A wake-up of parked deliveries: stale ones (the health carries another time) do nothing;
 * otherwise it releases what {@link wakeDecision} says onto the subscription's lane, paced, and
 * schedules the next wake-up while some remain, at a pace ramping up while the subscriber's
 * answers stay good ({@link nextReleasePace}).
 */
export async function wakeUp(
  wake: WakeMessage,
  health: DeliveryHealth,
  subscription: Subscription | undefined,
  now: number,
  deps: DeliveryBatchDeps,
): Promise<void> {
  if (health.wakeAt !== wake.wakeAt) return;
  const { projectId, subscriptionId } = wake;
  if (subscription && subscription.status !== 'active') {
    await wakeDisabled(wake, health, now, deps);
    return;
  }
  // A deleted subscription's deliveries are logged as skipped when they come, without a POST:
  // they drain at the most a second whatever the circuit says (one per probe lease, a large
  // backlog took days, past its items' TTL).
  const deleted = !subscription;
  // A wake-up sent under a higher maximum (before a deployment lowered it) is held to the new one.
  const pace = deleted ? deps.settings.heldReleaseMaxPerSecond : Math.min(wake.pace ?? deps.settings.heldReleaseFirstPerSecond, deps.settings.heldReleaseMaxPerSecond);
  const perSecond = deleted ? pace : Math.min(subscription.rateLimit ?? Infinity, pace);
  const decision = deleted
    ? drainDecision(now, { batch: deps.settings.heldReleaseBatch, perSecond })
    : wakeDecision(health, now, deps.timeoutMs[health.lane] + 5000, { batch: deps.settings.heldReleaseBatch, perSecond });
  if (decision.kind === 'later') {
    await sendWake(health.lane, projectId, subscriptionId, wake.wakeAt, decision.at, deps);
    return;
  }
  const { keys, messages, more } = await deps.stores.oldestHeld(projectId, subscriptionId, decision.count);
  if (messages.length > 0) {
    const delays = releaseDelays(messages.length, perSecond);
    const unsent = await deps.send(
      health.lane,
      messages.map((message, index) => toQueued(message, delays[index]!, true)),
    );
    if (unsent.length > 0) throw new Error(`released deliveries not sent: ${unsent[0]!.reason}`);
    await deps.stores.removeHeld(projectId, subscriptionId, keys);
    deps.report.metric('HeldDeliveriesReleased', messages.length);
  }
  if (more) {
    const next = decision.probe ? undefined : nextReleasePace(pace, health, deps.settings.heldReleaseMaxPerSecond);
    await sendWake(health.lane, projectId, subscriptionId, wake.wakeAt, decision.nextAt, deps, next);
    return;
  }
  await deps.stores.clearWake(projectId, subscriptionId, wake.wakeAt);
  // One parked between the read and the clear found a wake-up due and scheduled none. If its
  // wake-up is not sent, this one is due again, to be received again.
  if ((await deps.stores.oldestHeld(projectId, subscriptionId, 1)).keys.length > 0) {
    await sendWake(health.lane, projectId, subscriptionId, undefined, decision.nextAt, deps, undefined, wake.wakeAt);
  } else if ((health.heldCount ?? 0) !== messages.length) {
    // Drained, yet the count was not what this release took: the rest expired unreleased, or a
    // park raced by its own copy left the count one short.
    await deps.stores.settleHeld(projectId, subscriptionId);
  }
}

/**
 * A disabled subscription's wake-up. Its held deliveries wait for it to be enabled again (the
 * health reset that enabling does releases them), except those published `heldSkipAfterDays`
 * ago: released now, they are logged `skipped` when they come (recoverable) rather than removed
 * unlogged by their items' TTL. It looks again after SQS's longest delay, or a second after
 * releasing a page (more may be as old); with nothing held, the wake-ups stop.
 */
async function wakeDisabled(wake: WakeMessage, health: DeliveryHealth, now: number, deps: DeliveryBatchDeps): Promise<void> {
  const { projectId, subscriptionId } = wake;
  const [oldest] = (await deps.stores.oldestHeld(projectId, subscriptionId, 1)).messages;
  if (!oldest) {
    await deps.stores.clearWake(projectId, subscriptionId, wake.wakeAt);
    if ((health.heldCount ?? 0) !== 0) await deps.stores.settleHeld(projectId, subscriptionId);
    return;
  }
  const cutoff = now - deps.settings.heldSkipAfterDays * 86_400_000;
  if (!(Date.parse(oldest.publishedAt) < cutoff)) {
    await sendWake(health.lane, projectId, subscriptionId, wake.wakeAt, now + deps.maxDelaySeconds * 1000, deps);
    return;
  }
  const { keys, messages } = await deps.stores.oldestHeld(projectId, subscriptionId, deps.settings.heldReleaseMaxPerSecond);
  const old = messages.flatMap((message, index) => (Date.parse(message.publishedAt) < cutoff ? [index] : []));
  const unsent = await deps.send(
    health.lane,
    old.map((index) => toQueued(messages[index]!, 0, true)),
  );
  if (unsent.length > 0) throw new Error(`released deliveries not sent: ${unsent[0]!.reason}`);
  await deps.stores.removeHeld(projectId, subscriptionId, old.map((index) => keys[index]!));
  deps.report.metric('HeldDeliveriesReleased', old.length);
  await sendWake(health.lane, projectId, subscriptionId, wake.wakeAt, now + 1000, deps);
}

/** A delivery message as sent to a lane: fair (grouped by project) unless it goes to the DLQ. */
export function toQueued(message: ParsedDeliveryMessage, delaySeconds: number, fair: boolean): QueuedMessage {
  return { body: stringifyJson(message), delaySeconds, groupId: fair ? message.projectId : undefined };
}
