import type { DeliveryLane } from './settings';
import type { LoggedAttempt } from './attempt';
import { DeliveryDeps, DeliveryJob, Disposition, deferred, deliverJob } from './deliver';
import {
  admissionOf,
  contendedWaits,
  held,
  isDue,
  SLOT_SLACK_MS,
  heldForSlot,
  retakeSlot,
  retakesSlot,
  splitBySlot,
  splitProbe,
  untilSlot,
} from './delivery-admission';
import { DeliveryHealth, HealthSettings, PostSignal } from './delivery-health';
import { ParsedDeliveryMessage, WakeMessage, deliveryMessageSchema, deliveryPackSchema, wakeMessageSchema } from './delivery-message';
import { updateHealth, trackDeadStreaks } from './delivery-outcomes';
import { parked, toQueued, wakeUp } from './held-release';
import { groupBy } from './group-by';
import { inPools } from './in-pools';
import { OpenPosts } from './open-posts';
import type { Subscription } from './subscription';

/** A message as the event source hands it over. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
}

/** A message to put on a queue (the SQS adapter's shape). */
export interface QueuedMessage {
  body: string;
  delaySeconds?: number;
  /** The tenant on a fair queue. */
  groupId?: string;
}

/** A received message to show again after a while (the SQS adapter's shape). */
export interface VisibilityChange {
  receiptHandle: string;
  visibilitySeconds: number;
}

/** Which subscription a message is for. */
export interface SubscriptionRef {
  projectId: string;
  subscriptionId: string;
}

/** Where delivery reports what it did: metrics and log lines. */
export interface DeliveryReport {
  metric(name: string, count: number): void;
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

/** The subscriptions of a batch (missing ones left out) and their health, by subscription id. */
export interface DeliveryState {
  subscriptions: Map<string, Subscription>;
  healths: Map<string, DeliveryHealth>;
}

/** The stored state delivery reads and changes. */
export interface DeliveryStores {
  /** Each subscription and its health (healthy when never written), read together. */
  getState(keys: SubscriptionRef[]): Promise<DeliveryState>;
  getHealth(projectId: string, subscriptionId: string): Promise<DeliveryHealth>;
  /** Writes `after` unless the health changed since `before` was read (false then). */
  saveHealth(projectId: string, subscriptionId: string, before: DeliveryHealth, after: DeliveryHealth): Promise<boolean>;
  claimProbe(projectId: string, subscriptionId: string, now: number, until: number): Promise<boolean>;
  reserveRate(
    projectId: string,
    subscriptionId: string,
    rate: number,
    wanted: number,
    knownTat: number | undefined,
    toleranceMs: number,
  ): Promise<number[] | undefined>;
  /** Takes a reserved slot for the delivery about to use it; false when a copy of it took it first. */
  claimRateSlot(projectId: string, subscriptionId: string, slotAt: number, webhookId: string): Promise<boolean>;
  /** Counts a dead delivery towards auto-disable, once per webhook id; true when it disabled the subscription. */
  recordDeadDelivery(projectId: string, subscriptionId: string, webhookId: string, limit: number, reason: string): Promise<boolean>;
  resetDeadDeliveries(projectId: string, subscriptionId: string): Promise<void>;
  /** Parks deliveries an open circuit holds (and counts them on the health item). */
  /** Returns the parked deliveries' keys (as `oldestHeld` gives them, for `removeHeld`). */
  park(projectId: string, subscriptionId: string, messages: ParsedDeliveryMessage[], now: number): Promise<string[]>;
  /** The oldest parked deliveries, their keys, and whether more remain. */
  oldestHeld(projectId: string, subscriptionId: string, limit: number): Promise<{ keys: string[]; messages: ParsedDeliveryMessage[]; more: boolean }>;
  removeHeld(projectId: string, subscriptionId: string, keys: string[]): Promise<void>;
  /** Sets the parked count to 0 if nothing is parked (items the TTL removed were never counted off). */
  settleHeld(projectId: string, subscriptionId: string): Promise<void>;
  /** Sets the wake-up time if `expected` is still stored (undefined: none is due); true for the winner. */
  scheduleWake(projectId: string, subscriptionId: string, expected: number | undefined, at: number, now: number): Promise<boolean>;
  clearWake(projectId: string, subscriptionId: string, expected: number): Promise<void>;
}

/** Everything a batch needs from the outside world; the handler wires it. */
export interface DeliveryBatchDeps extends DeliveryDeps {
  stores: DeliveryStores;
  writeAttempts(attempts: LoggedAttempt[]): Promise<void>;
  reschedule(lane: DeliveryLane, changes: VisibilityChange[]): Promise<void>;
  /** Sends messages to a queue; returns those not taken, by index, with the reason. */
  send(queue: DeliveryLane | 'dlq', messages: QueuedMessage[]): Promise<{ index: number; reason: string }[]>;
  report: DeliveryReport;
  settings: HealthSettings & {
    rateLimitToleranceMs: number;
    autoDisableAfterDead: number;
    /** Parked deliveries released per wake-up at least, and the release's pace: first and most per second. */
    heldReleaseBatch: number;
    heldReleaseFirstPerSecond: number;
    heldReleaseMaxPerSecond: number;
    /** POSTs to one subscriber at once from an invocation. */
    postsAtOncePerSubscription: number;
    /** A disabled subscription's held deliveries published this long ago are released to be logged skipped. */
    heldSkipAfterDays: number;
  };
}

/** An entry of the batch: its SQS identity and the job it carries. */
interface Entry {
  messageId: string;
  receiptHandle: string;
  job: DeliveryJob;
}

/** A message to send for an entry (a re-send SQS refused, or a pack's delivery going on alone). */
interface Resend {
  entry: Entry;
  queue: DeliveryLane | 'dlq';
  message: QueuedMessage;
}

/** What became of a message in this invocation. */
interface Handled {
  entry: Entry;
  disposition: Disposition;
  attempt?: LoggedAttempt;
  signal?: PostSignal;
}

/**
 * Handles a batch of one lane. Each message is either due and POSTed (in parallel), or sent on
 * without a POST: not yet due (a retry's wait, in hops of at most 15 minutes), its subscription
 * moved to the slow lane, its circuit open, or its rate limit reached. Nothing waits in
 * flight: every wait is a new, delayed message, so the queue's in-flight count stays at the
 * invocations' own batches. The attempt number and the retry schedule's position travel in the
 * message. Attempt logs cannot be refused for what a client sent, and one message's failure
 * to be handled fails only that message. Returns the ids of the messages to receive again.
 */
export async function deliverBatch(
  lane: DeliveryLane,
  records: ReceivedMessage[],
  deps: DeliveryBatchDeps,
  /** The invocation's open deliveries, when it handles more than one batch at once. */
  openPosts: OpenPosts = new OpenPosts(),
): Promise<string[]> {
  // By message id: a pack's deliveries share their record, which is received again once.
  const failures = new Map<string, VisibilityChange>();
  const retryLater = (entry: { messageId: string; receiptHandle: string }, visibilitySeconds: number) => {
    if (!failures.has(entry.messageId)) failures.set(entry.messageId, { receiptHandle: entry.receiptHandle, visibilitySeconds });
  };
  // A delivery of a pack that cannot be handled goes on alone (the rest of its pack is handled
  // and the pack acknowledged); a lone message is received again, its receive counted (poison).
  const packs = new Set<string>();
  const alone: Resend[] = [];
  // Its rate slot (if any) will have passed: it reserves a new one when it comes.
  const handleAgain = (entry: Entry, seconds: number, queue: DeliveryLane | 'dlq' = lane, message = toQueued({ ...entry.job.message, rateSlotAt: undefined }, seconds, true)) => {
    if (packs.has(entry.messageId)) alone.push({ entry, queue, message });
    else retryLater(entry, seconds);
  };
  const entries: Entry[] = [];
  const wakes: { record: ReceivedMessage; wake: WakeMessage }[] = [];
  for (const record of records) {
    const json = safeJson(record.body);
    const wake = wakeMessageSchema.safeParse(json);
    if (wake.success) {
      wakes.push({ record, wake: wake.data });
      continue;
    }
    // A pack (deliveries of one subscription, §3.20) gives an entry per delivery, all on the
    // record; one that cannot be handled goes on alone (`handleAgain`).
    const parsed = isPack(json) ? deliveryPackSchema.safeParse(json) : deliveryMessageSchema.safeParse(json);
    if (!parsed.success) {
      deps.report.error('malformed delivery message, sending it towards the DLQ', { messageId: record.messageId });
      retryLater(record, 0);
      continue;
    }
    if ('pack' in parsed.data) packs.add(record.messageId);
    for (const message of 'pack' in parsed.data ? parsed.data.pack : [parsed.data]) {
      entries.push({ messageId: record.messageId, receiptHandle: record.receiptHandle, job: { message, lane } });
    }
  }

  const now = Date.now();
  const handled: Handled[] = [];
  const due: Entry[] = [];
  for (const entry of entries) {
    const { notBefore, rateSlotAt } = entry.job.message;
    if (notBefore === undefined || isDue(entry.job.message, now)) due.push(entry);
    else if (rateSlotAt !== undefined && rateSlotAt >= notBefore) handled.push({ entry, disposition: heldForSlot(lane, entry.job.message, rateSlotAt, now, deps.maxDelaySeconds) });
    else handled.push({ entry, disposition: deferred(lane, entry.job.message, (notBefore - now) / 1000, now, deps.maxDelaySeconds) });
  }

  const keys = [
    ...due.map(({ job }) => ({ projectId: job.message.projectId, subscriptionId: job.message.subscriptionId })),
    ...wakes.map(({ wake }) => ({ projectId: wake.projectId, subscriptionId: wake.subscriptionId })),
  ];
  const { subscriptions: found, healths } = await deps.stores.getState(keys);
  const postable: Entry[] = [];
  for (const [subscriptionId, group] of groupBy(due, (entry) => entry.job.message.subscriptionId)) {
    try {
      postable.push(...(await admit(lane, group, found.get(subscriptionId), healths.get(subscriptionId)!, now, handled, deps)));
    } catch (error) {
      // One subscription's stores failing (a throttled rate clock, a probe claim) holds only its own deliveries.
      deps.report.error('deliveries could not be admitted; they will be tried again', { subscriptionId, error: String(error) });
      const decided = new Set(handled.map((result) => result.entry));
      for (const entry of group) if (!decided.has(entry)) handleAgain(entry, 30);
    }
  }

  // A subscriber gets at most `postsAtOncePerSubscription` POSTs at once from a fast-lane
  // invocation (packs bring up to 100 of its deliveries): the rest follow as those end. Not a
  // rate-limited one (its slots pace its POSTs, and a wait here would make them miss their
  // slots), nor in the slow lane (its 10 s deadline, ten times over, would pass the function's
  // timeout; its messages come alone, unless a pack was redriven there).
  const posted = await inPools(
    postable,
    (entry) => entry.job.message.subscriptionId,
    (subscriptionId) => (lane === 'fast' && !found.get(subscriptionId)?.rateLimit ? deps.settings.postsAtOncePerSubscription : Infinity),
    async (entry): Promise<Handled | undefined> => {
      try {
        // A delivery that came back just before its rate slot waits for it (under a second); one
        // that the batch's reads made miss it takes a new one rather than go late.
        await untilSlot(entry.job.message, Date.now());
        if (retakesSlot(entry.job, Date.now())) {
          deps.report.metric('DeliveriesSlotRetaken', 1);
          return { entry, disposition: retakeSlot(lane, entry.job.message) };
        }
        const done = openPosts.begin(entry.job.message.subscriptionId);
        try {
          return { entry, ...(await deliverJob(entry.job, found.get(entry.job.message.subscriptionId), deps)) };
        } finally {
          done();
        }
      } catch (error) {
        deps.report.error('delivery could not be handled; the message will be tried again', {
          webhookId: entry.job.message.webhookId,
          error: String(error),
        });
        handleAgain(entry, 30);
        return undefined;
      }
    },
    {
      // A subscriber that missed the fast lane's deadline is in the slow lane now: the rest of its
      // deliveries go there without a POST, so it holds this invocation for one deadline, not ten.
      // One that failed enough times in a row to open its circuit (counting the failures its
      // health already had) gets no more POSTs either: the rest come back in a second, to find
      // the circuit open and be parked.
      after: (results, subscriptionId) => slowNow(lane, results) || failingNow(results, deps.settings.circuitFailuresToOpen, healths.get(subscriptionId)),
      instead: (entry, results): Handled => {
        if (slowNow(lane, results)) {
          deps.report.metric('DeliveriesToSlowLane', 1);
          return { entry, disposition: held([entry.job.message], 'slow', () => 0, now, deps.maxDelaySeconds)[0]! };
        }
        return { entry, disposition: held([entry.job.message], lane, () => 1, now, deps.maxDelaySeconds)[0]! };
      },
    },
  );
  for (const result of posted) if (result) handled.push(result);
  await Promise.all(
    wakes.map(async ({ record, wake }) => {
      try {
        await wakeUp(wake, healths.get(wake.subscriptionId)!, found.get(wake.subscriptionId), now, deps);
      } catch (error) {
        deps.report.error('held deliveries could not be released; the wake-up will be tried again', {
          subscriptionId: wake.subscriptionId,
          error: String(error),
        });
        retryLater(record, 10);
      }
    }),
  );

  const attempts = handled.flatMap((result) => (result.attempt ? [result.attempt] : []));
  await deps.writeAttempts(attempts);
  await updateHealth(
    handled.flatMap(({ entry, signal }) => (signal ? [{ projectId: entry.job.message.projectId, subscriptionId: entry.job.message.subscriptionId, signal }] : [])),
    healths,
    deps,
  );
  await trackDeadStreaks(attempts, found, deps);
  for (const attempt of attempts) {
    deps.report.metric(`Attempt_${attempt.outcome}`, 1);
    if (attempt.outcome === 'dead') {
      deps.report.warn('delivery dead-lettered', { webhookId: attempt.webhookId, subscriptionId: attempt.subscriptionId });
    }
  }

  for (const { entry, queue, message } of await sendOn(handled, deps)) handleAgain(entry, 10, queue, message);
  // What goes on alone is sent once more; SQS refusing again, the whole pack is received again
  // (its deliveries whose messages were taken then run twice, as an SQS copy's would).
  for (const [queue, list] of groupBy(alone, (item) => item.queue)) {
    const unsent = await deps.send(queue, list.map((item) => item.message));
    if (unsent.length > 0) deps.report.metric('DeliveryMessagesUnsent', unsent.length);
    for (const { index } of unsent) retryLater(list[index]!.entry, 10);
  }
  const changes = [...failures.values()];
  if (changes.length > 0) {
    // Throwing here would redeliver the batch's successes; these retry anyway, after the
    // queue's visibility timeout.
    await deps.reschedule(lane, changes).catch((error: unknown) =>
      deps.report.warn('could not shorten the visibility of messages to retry; they retry after the visibility timeout', {
        error: String(error),
      }),
    );
  }
  return [...failures.keys()];
}

/**
 * Decides which of one subscription's due messages may be POSTed now; the others are put in
 * `handled`, sent on without a POST and without spending an attempt.
 */
async function admit(
  lane: DeliveryLane,
  group: Entry[],
  subscription: Subscription | undefined,
  health: DeliveryHealth,
  now: number,
  handled: Handled[],
  deps: DeliveryBatchDeps,
): Promise<Entry[]> {
  const hold = (entries: Entry[], waits: (index: number) => number, queue: DeliveryLane = lane) => {
    const dispositions = held(
      entries.map((entry) => entry.job.message),
      queue,
      waits,
      now,
      deps.maxDelaySeconds,
    );
    entries.forEach((entry, index) => handled.push({ entry, disposition: dispositions[index]! }));
  };
  const admission = admissionOf(lane, subscription, health, now, deps.timeoutMs[lane] + 5000);
  if (admission.kind === 'forward') {
    hold(group, () => 0, admission.queue);
    deps.report.metric('DeliveriesToSlowLane', group.length);
    return [];
  }
  // Deleted, disabled or changed subscriptions are logged as skipped by deliverJob, without a POST.
  if (!subscription || subscription.status !== 'active') return group;
  let admitted = group;
  if (admission.kind === 'hold') {
    // A rate slot reserved before the circuit opened has passed by the time it closes.
    for (const entry of group) entry.job = { ...entry.job, message: { ...entry.job.message, rateSlotAt: undefined } };
    deps.report.metric('DeliveriesHeldByCircuit', group.length);
    if (
      admission.reason === 'circuit-open' &&
      (await parked(
        lane,
        group.map((entry) => entry.job.message),
        subscription,
        now + admission.seconds * 1000,
        now,
        deps,
      ))
    ) {
      for (const entry of group) handled.push({ entry, disposition: { kind: 'done' } });
    } else {
      hold(group, () => admission.seconds);
    }
    return [];
  }
  if (admission.kind === 'probe') {
    const claimed = await deps.stores.claimProbe(subscription.id_project, subscription._id, now, now + admission.leaseMs);
    const split = splitProbe(group.length, claimed, admission.leaseMs);
    if (!split.probe) {
      hold(group, (index) => split.waitSeconds[index]!);
      return [];
    }
    const [first, ...rest] = group;
    first!.job = { ...first!.job, probe: true };
    hold(rest, (index) => split.waitSeconds[index]!);
    admitted = [first!];
  }
  if (subscription.rateLimit && admitted.length > 0) {
    const rate = subscription.rateLimit;
    const split = splitBySlot(
      admitted.map((entry) => entry.job.message),
      now,
    );
    const early = split.early.map((index) => admitted[index]!);
    for (const entry of early) handled.push({ entry, disposition: heldForSlot(lane, entry.job.message, entry.job.message.rateSlotAt!, now, deps.maxDelaySeconds) });
    const slotted = [...split.go, ...split.soon].map((index) => admitted[index]!);
    // A held delivery's slot is taken before its POST: SQS may have handed its message out twice
    // (at-least-once), and the copy that finds the slot taken asks for a slot of its own, so the
    // receiver never gets two POSTs in one slot (DESIGN §4: rateLimit is never exceeded).
    const claims = await Promise.all(
      slotted.map((entry) => deps.stores.claimRateSlot(subscription.id_project, subscription._id, entry.job.message.rateSlotAt!, entry.job.message.webhookId)),
    );
    const go = slotted.filter((_, index) => claims[index]);
    const copies = slotted.filter((_, index) => !claims[index]);
    for (const entry of copies) entry.job = { ...entry.job, message: { ...entry.job.message, rateSlotAt: undefined } };
    if (copies.length > 0) deps.report.metric('DeliveriesSlotTakenByCopy', copies.length);
    const fresh = [...split.fresh.map((index) => admitted[index]!), ...copies];
    if (fresh.length > 0) {
      const slots = await deps.stores.reserveRate(
        subscription.id_project,
        subscription._id,
        rate,
        fresh.length,
        health.rateTat,
        deps.settings.rateLimitToleranceMs,
      );
      if (!slots) {
        const waits = contendedWaits(fresh.length, rate);
        hold(fresh, (index) => waits[index]!);
      } else {
        let later = 0;
        fresh.forEach((entry, index) => {
          const slot = slots[index]!;
          if (slot <= now + SLOT_SLACK_MS) {
            if (slot > now) entry.job = { ...entry.job, message: { ...entry.job.message, rateSlotAt: slot } };
            go.push(entry);
          } else {
            handled.push({ entry, disposition: heldForSlot(lane, entry.job.message, slot, now, deps.maxDelaySeconds) });
            later += 1;
          }
        });
        if (later > 0) deps.report.metric('DeliveriesRateLimited', later);
      }
    }
    admitted = go;
  }
  return admitted;
}

/** Sends every message that goes on; returns those SQS did not take, with their entries. */
async function sendOn(handled: Handled[], deps: DeliveryBatchDeps): Promise<Resend[]> {
  const sends = handled.flatMap(({ entry, disposition }) => (disposition.kind === 'send' ? [{ entry, send: disposition }] : []));
  const byQueue = groupBy(sends, ({ send }) => send.queue);
  const failed: Resend[] = [];
  await Promise.all(
    [...byQueue].map(async ([queue, results]) => {
      const messages = results.map(({ send }) => toQueued(send.message, send.delaySeconds, queue !== 'dlq'));
      const unsent = await deps.send(queue, messages);
      if (unsent.length > 0) {
        const reasons = new Map<string, number>();
        for (const { reason } of unsent) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        deps.report.warn('SQS did not take some delivery messages; they will be handled again', {
          queue,
          unsent: unsent.length,
          reasons: [...reasons].map(([reason, count]) => (count > 1 ? `${reason} (×${count})` : reason)).join('; '),
        });
        deps.report.metric('DeliveryMessagesUnsent', unsent.length);
      }
      for (const { index } of unsent) failed.push({ entry: results[index]!.entry, queue, message: messages[index]! });
    }),
  );
  return failed;
}

/** A fast-lane POST of these missed the lane's deadline: the subscriber is in the slow lane now. */
const slowNow = (lane: DeliveryLane, results: (Handled | undefined)[]): boolean =>
  lane === 'fast' && results.some((result) => result?.signal?.fastLaneTimeout === true);

/**
 * Whether a subscriber's results so far (in the order they ended) end in `limit` failed POSTs in
 * a row, enough to open its circuit: the failures its health had before this invocation counted
 * first, once this invocation has POSTed (results without a POST, a skipped delivery of a
 * disabled subscription or a retaken slot, say nothing of the subscriber).
 */
function failingNow(results: (Handled | undefined)[], limit: number, health: DeliveryHealth | undefined): boolean {
  if (!results.some((result) => result?.signal)) return false;
  let failedInARow = health?.consecutiveFailures ?? 0;
  for (const result of results) if (result?.signal) failedInARow = result.signal.ok ? 0 : failedInARow + 1;
  return failedInARow >= limit;
}

const isPack = (json: unknown): boolean => typeof json === 'object' && json !== null && 'pack' in json;

/** The subscriptions a delivery queue's message is for: a delivery's, a pack's, a wake-up's (none if unreadable). */
export function subscriptionsOf(record: ReceivedMessage): string[] {
  const json = safeJson(record.body) as { subscriptionId?: unknown; pack?: unknown } | undefined;
  const ids = Array.isArray(json?.pack) ? (json.pack as { subscriptionId?: unknown }[]).map((delivery) => delivery?.subscriptionId) : [json?.subscriptionId];
  return [...new Set(ids.filter((id): id is string => typeof id === 'string'))];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
