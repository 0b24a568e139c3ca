import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY, DELIVERY_LANES, DeliveryLane } from '../core/settings';
import { parseAllowlist } from '../core/address-policy';
import { Attempt } from '../core/attempt';
import { DeliveryDeps, DeliveryJob, Disposition, deferred, deliverJob } from '../core/deliver';
import { DeliveryHealth, HealthTransition, PostSignal, foldSignals, gateOf, healthNeedsWrite } from '../core/delivery-health';
import { ParsedDeliveryMessage, deliveryMessageSchema } from '../core/delivery-message';
import { Subscription } from '../core/subscription';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import { resolveClaimCheckedPayload } from '../adapters/claim-check-store';
import { readConfig, secondsList } from '../adapters/config';
import { DeliveryHealthStore } from '../adapters/delivery-health-store';
import { instrument, logger, metrics } from '../adapters/observability';
import { OutgoingMessage, Unsent, VisibilityChange, changeVisibility, describeUnsent, trySendMessages } from '../adapters/sqs-queue';
import { SubscriptionStore } from '../adapters/subscription-store';
import { postWebhook } from '../adapters/webhook-client';
import { stringifyJson } from '../core/json-text';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    /** The lane this function serves; its queue is the one it receives from. */
    DELIVERY_LANE: z.enum(DELIVERY_LANES).default('fast'),
    DELIVERY_QUEUE_URL: z.string().min(1),
    SLOW_DELIVERY_QUEUE_URL: z.string().min(1),
    DELIVERY_DLQ_URL: z.string().min(1),
    RETRY_SCHEDULE: secondsList.default([...DEFAULT_RETRY_SCHEDULE_SECONDS]),
    DELIVERY_TIMEOUT_MS: z.coerce.number().int().positive().default(DELIVERY.timeoutMs),
    FAST_LANE_TIMEOUT_MS: z.coerce.number().int().positive().default(DELIVERY.fastLaneTimeoutMs),
    TARGET_ALLOWLIST: z.string().optional(),
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
    AUTO_DISABLE_AFTER_DEAD: z.coerce.number().int().positive().default(DELIVERY.autoDisableAfterDead),
    WEBHOOK_ORIGIN: z.string().min(1),
  }),
);

const subscriptions = new SubscriptionStore(config.TABLE_NAME, undefined, config.ATTEMPT_LOG_TTL_DAYS);
const attemptLogs = new AttemptLogStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);
const healthStore = new DeliveryHealthStore(config.TABLE_NAME);
const allowlist = parseAllowlist(config.TARGET_ALLOWLIST);
const queueUrls: Record<DeliveryLane | 'dlq', string> = {
  fast: config.DELIVERY_QUEUE_URL,
  slow: config.SLOW_DELIVERY_QUEUE_URL,
  dlq: config.DELIVERY_DLQ_URL,
};

/** The seams of delivery, replaceable in tests (e.g. to inject a failure mid-batch). */
export const deliveryDeps: DeliveryDeps & {
  writeAttempts: (attempts: Attempt[]) => Promise<void>;
  reschedule: (lane: DeliveryLane, changes: VisibilityChange[]) => Promise<void>;
  send: (queue: DeliveryLane | 'dlq', messages: OutgoingMessage[]) => Promise<Unsent[]>;
} = {
  post: ({ timeoutMs, ...request }) =>
    postWebhook({
      ...request,
      timeoutMs: timeoutMs ?? config.DELIVERY_TIMEOUT_MS,
      maxResponseBytes: DELIVERY.responseBodyLimitBytes,
      allowlist,
    }),
  unsubscribe: async (subscription) => {
    await subscriptions.delete(subscription.id_project, subscription._id);
    logger.info('subscription removed: target answered 410 Gone', {
      projectId: subscription.id_project,
      subscriptionId: subscription._id,
    });
  },
  retry: {
    schedule: config.RETRY_SCHEDULE,
    jitter: DELIVERY.jitter,
    retryAfterMinSeconds: DELIVERY.retryAfterMinSeconds,
    retryAfterMaxSeconds: DELIVERY.retryAfterMaxSeconds,
  },
  timeoutMs: { fast: Math.min(config.FAST_LANE_TIMEOUT_MS, config.DELIVERY_TIMEOUT_MS), slow: config.DELIVERY_TIMEOUT_MS },
  maxDelaySeconds: DELIVERY.maxDelaySeconds,
  origin: config.WEBHOOK_ORIGIN,
  resolvePayload: resolveClaimCheckedPayload,
  writeAttempts: (attempts) => attemptLogs.write(attempts),
  reschedule: (lane, changes) => changeVisibility(queueUrls[lane], changes),
  send: (queue, messages) => trySendMessages(queueUrls[queue], messages),
};

/** A received message: its SQS identity and the job it carries. */
interface Entry {
  messageId: string;
  receiptHandle: string;
  job: DeliveryJob;
}

/** What became of a message in this invocation. */
interface Handled {
  entry: Entry;
  disposition: Disposition;
  attempt?: Attempt;
  signal?: PostSignal;
}

/** Messages not yet due come back within this much of their time rather than hopping again. */
const DUE_SLACK_MS = 500;

/**
 * Handles a batch of one lane. Each message is either due and POSTed (in parallel), or sent on
 * without a POST: not yet due (a retry's wait, in hops of at most 15 minutes), its subscription
 * moved to the slow lane, its circuit open, or its rate limit reached. Nothing waits in
 * flight: every wait is a new, delayed message, so the queue's in-flight count stays at the
 * invocations' own batches. The attempt number and the retry schedule's position travel in the
 * message. Attempt logs cannot be refused for what a client sent, and one message's failure
 * to be handled fails only that message.
 */
export const deliverBatchIn = (lane: DeliveryLane) => async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: SQSBatchItemFailure[] = [];
  const changes: VisibilityChange[] = [];
  const entries: Entry[] = [];
  for (const record of event.Records) {
    const parsed = deliveryMessageSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      logger.error('malformed delivery message, sending it towards the DLQ', { messageId: record.messageId });
      failures.push({ itemIdentifier: record.messageId });
      changes.push({ receiptHandle: record.receiptHandle, visibilitySeconds: 0 });
      continue;
    }
    entries.push({ messageId: record.messageId, receiptHandle: record.receiptHandle, job: { message: parsed.data, lane } });
  }

  const now = Date.now();
  const handled: Handled[] = [];
  const due: Entry[] = [];
  for (const entry of entries) {
    const { notBefore } = entry.job.message;
    if (notBefore !== undefined && notBefore > now + DUE_SLACK_MS) {
      handled.push({ entry, disposition: deferred(lane, entry.job.message, (notBefore - now) / 1000, now, DELIVERY.maxDelaySeconds) });
    } else {
      due.push(entry);
    }
  }

  const keys = due.map(({ job }) => ({ projectId: job.message.projectId, subscriptionId: job.message.subscriptionId }));
  const [found, healths] = await Promise.all([subscriptions.getMany(keys), healthStore.getMany(keys)]);
  const postable: Entry[] = [];
  for (const [subscriptionId, group] of groupBy(due, (entry) => entry.job.message.subscriptionId)) {
    const admitted = await admit(lane, group, found.get(subscriptionId), healths.get(subscriptionId)!, now, handled);
    postable.push(...admitted);
  }

  const posted = await Promise.all(
    postable.map(async (entry): Promise<Handled | undefined> => {
      try {
        return { entry, ...(await deliverJob(entry.job, found.get(entry.job.message.subscriptionId), deliveryDeps)) };
      } catch (error) {
        logger.error('delivery could not be handled; the message will be tried again', {
          webhookId: entry.job.message.webhookId,
          error: String(error),
        });
        failures.push({ itemIdentifier: entry.messageId });
        changes.push({ receiptHandle: entry.receiptHandle, visibilitySeconds: 30 });
        return undefined;
      }
    }),
  );
  for (const result of posted) if (result) handled.push(result);

  const attempts = handled.flatMap((result) => (result.attempt ? [result.attempt] : []));
  await deliveryDeps.writeAttempts(attempts);
  await updateHealth(handled, healths);
  await trackDeadStreaks(attempts, found);
  for (const attempt of attempts) {
    metrics.addMetric(`Attempt_${attempt.outcome}`, 'Count', 1);
    if (attempt.outcome === 'dead') {
      logger.warn('delivery dead-lettered', { webhookId: attempt.webhookId, subscriptionId: attempt.subscriptionId });
    }
  }

  for (const entry of await sendOn(handled)) {
    failures.push({ itemIdentifier: entry.messageId });
    changes.push({ receiptHandle: entry.receiptHandle, visibilitySeconds: 10 });
  }
  if (changes.length > 0) {
    // Throwing here would redeliver the batch's successes; these retry anyway, after the
    // queue's visibility timeout.
    await deliveryDeps.reschedule(lane, changes).catch((error: unknown) =>
      logger.warn('could not shorten the visibility of messages to retry; they retry after the visibility timeout', {
        error: String(error),
      }),
    );
  }
  return { batchItemFailures: failures };
};

/** The function's own lane (DELIVERY_LANE); the local stack builds both with {@link deliverBatchIn}. */
export const deliverBatch = deliverBatchIn(config.DELIVERY_LANE);

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
): Promise<Entry[]> {
  const hold = (entries: Entry[], seconds: (index: number) => number, queue: DeliveryLane = lane) => {
    for (const [index, entry] of entries.entries()) {
      handled.push({ entry, disposition: deferred(queue, entry.job.message, seconds(index), now, DELIVERY.maxDelaySeconds) });
    }
  };
  // Deleted, disabled or changed subscriptions are logged as skipped by deliverJob, without a POST.
  if (!subscription || subscription.status !== 'active') return group;
  if (lane === 'fast' && health.lane === 'slow') {
    hold(group, () => 0, 'slow');
    metrics.addMetric('DeliveriesToSlowLane', 'Count', group.length);
    return [];
  }
  const gate = gateOf(health, now);
  let admitted = group;
  if (gate.kind === 'wait') {
    hold(group, () => gate.seconds);
    metrics.addMetric('DeliveriesHeldByCircuit', 'Count', group.length);
    return [];
  }
  if (gate.kind === 'probe') {
    const leaseMs = deliveryDeps.timeoutMs[lane] + 5000;
    const claimed = await healthStore.claimProbe(subscription.id_project, subscription._id, now, now + leaseMs);
    const [first, ...rest] = group;
    if (!claimed || !first) {
      hold(group, (index) => leaseMs / 1000 + index);
      return [];
    }
    first.job = { ...first.job, probe: true };
    hold(rest, (index) => leaseMs / 1000 + 1 + index);
    admitted = [first];
  }
  if (subscription.rateLimit && admitted.length > 0) {
    const { allowed, dueInMs } = await healthStore.reserve(
      subscription.id_project,
      subscription._id,
      subscription.rateLimit,
      admitted.length,
      health.rateTat,
      DELIVERY.rateLimitToleranceMs,
    );
    const over = admitted.slice(allowed);
    hold(over, (index) => Math.max(1, (dueInMs[index] ?? 1000) / 1000));
    if (over.length > 0) metrics.addMetric('DeliveriesRateLimited', 'Count', over.length);
    admitted = admitted.slice(0, allowed);
  }
  return admitted;
}

/** Folds each subscription's POST outcomes into its health and stores what changed. */
async function updateHealth(handled: Handled[], healths: Map<string, DeliveryHealth>): Promise<void> {
  const signals = new Map<string, { projectId: string; signals: PostSignal[] }>();
  for (const { entry, signal } of handled) {
    if (!signal) continue;
    const { projectId, subscriptionId } = entry.job.message;
    const current = signals.get(subscriptionId) ?? { projectId, signals: [] };
    current.signals.push(signal);
    signals.set(subscriptionId, current);
  }
  await Promise.all(
    [...signals].map(async ([subscriptionId, { projectId, signals: list }]) => {
      let before = healths.get(subscriptionId)!;
      for (let round = 0; round < 3; round++) {
        const { health: after, transitions } = foldSignals(before, list, DELIVERY);
        if (!healthNeedsWrite(before, after)) return;
        if (await healthStore.save(projectId, subscriptionId, before, after)) {
          reportTransitions(projectId, subscriptionId, transitions);
          return;
        }
        before = await healthStore.get(projectId, subscriptionId);
      }
      logger.warn('delivery health not updated: it kept changing under concurrent deliveries', { subscriptionId });
    }),
  );
}

function reportTransitions(projectId: string, subscriptionId: string, transitions: HealthTransition[]): void {
  for (const transition of transitions) {
    const name = { 'circuit-opened': 'CircuitOpened', 'circuit-reopened': 'CircuitReopened', 'circuit-closed': 'CircuitClosed', 'lane-slow': 'MovedToSlowLane', 'lane-fast': 'MovedToFastLane' }[transition];
    metrics.addMetric(name, 'Count', 1);
    logger.info(`subscription health: ${transition}`, { projectId, subscriptionId });
  }
}

/** Sends every message that goes on; returns the entries whose message SQS did not take. */
async function sendOn(handled: Handled[]): Promise<Entry[]> {
  const sends = handled.flatMap(({ entry, disposition }) => (disposition.kind === 'send' ? [{ entry, send: disposition }] : []));
  const byQueue = groupBy(sends, ({ send }) => send.queue);
  const failed: Entry[] = [];
  await Promise.all(
    [...byQueue].map(async ([queue, results]) => {
      const messages = results.map(({ send }) => toOutgoing(send.message, send.delaySeconds, queue !== 'dlq'));
      const unsent = await deliveryDeps.send(queue, messages);
      if (unsent.length > 0) {
        logger.warn('SQS did not take some delivery messages; they will be handled again', {
          queue,
          unsent: unsent.length,
          reasons: describeUnsent(unsent),
        });
        metrics.addMetric('DeliveryMessagesUnsent', 'Count', unsent.length);
      }
      for (const { index } of unsent) failed.push(results[index]!.entry);
    }),
  );
  return failed;
}

/** A delivery message as sent: the project is its tenant on the (fair) delivery queues. */
function toOutgoing(message: ParsedDeliveryMessage, delaySeconds: number, fair: boolean): OutgoingMessage {
  return { body: stringifyJson(message), delaySeconds, groupId: fair ? message.projectId : undefined };
}

function groupBy<T, K>(items: T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}

/**
 * Auto-disable: a subscription whose deliveries die `AUTO_DISABLE_AFTER_DEAD` times in a row
 * is disabled; a success clears the streak (one write, only when there is a streak).
 */
async function trackDeadStreaks(attempts: Attempt[], found: Map<string, Subscription>): Promise<void> {
  for (const attempt of attempts) {
    if (attempt.outcome === 'dead') {
      const disabled = await subscriptions.recordDeadDelivery(
        attempt.projectId,
        attempt.subscriptionId,
        config.AUTO_DISABLE_AFTER_DEAD,
        `${config.AUTO_DISABLE_AFTER_DEAD} deliveries in a row exhausted their retries`,
      );
      if (disabled) {
        logger.warn('subscription disabled after repeated dead deliveries', {
          projectId: attempt.projectId,
          subscriptionId: attempt.subscriptionId,
        });
        metrics.addMetric('SubscriptionAutoDisabled', 'Count', 1);
      }
    } else if (attempt.outcome === 'delivered' && (found.get(attempt.subscriptionId)?.consecutiveDeadCount ?? 0) > 0) {
      await subscriptions.resetDeadDeliveries(attempt.projectId, attempt.subscriptionId);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = instrument(deliverBatch);

/**
 * Each lane's handler, bound to its lane whatever DELIVERY_LANE says: the local stack runs both
 * lanes from this one module (the template's `localExport` of each lane's function).
 */
export const fastLaneHandler = instrument(deliverBatchIn('fast'));
export const slowLaneHandler = instrument(deliverBatchIn('slow'));
