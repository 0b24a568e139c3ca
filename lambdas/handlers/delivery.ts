import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY, DELIVERY_LANES, DeliveryLane } from '../core/settings';
import { parseAllowlist } from '../core/address-policy';
import { DeliveryBatchDeps, deliverBatch as deliverBatchOf, subscriptionsOf } from '../core/delivery-batch';
import { OpenPosts } from '../core/open-posts';
import { workWhileHeld } from '../core/work-while-held';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import { resolveClaimCheckedPayload } from '../adapters/claim-check-store';
import { readConfig, secondsList } from '../adapters/config';
import { DeliveryHealthStore } from '../adapters/delivery-health-store';
import { readDeliveryState } from '../adapters/delivery-state-store';
import { HeldDeliveryStore } from '../adapters/held-delivery-store';
import { instrument, logger, metrics } from '../adapters/observability';
import { changeVisibility, deleteMessages, receiveVisible, trySendMessages } from '../adapters/sqs-queue';
import { SubscriptionStore } from '../adapters/subscription-store';
import { postWebhook } from '../adapters/webhook-client';

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
    FAST_LANE_ANSWER_MS: z.coerce.number().int().positive().default(DELIVERY.fastLaneAnswerMs),
    TARGET_ALLOWLIST: z.string().optional(),
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
    AUTO_DISABLE_AFTER_DEAD: z.coerce.number().int().positive().default(DELIVERY.autoDisableAfterDead),
    CIRCUIT_COOLDOWN_SECONDS: z.coerce.number().int().positive().default(DELIVERY.circuitCooldownSeconds),
    WEBHOOK_ORIGIN: z.string().min(1),
  }),
);

const subscriptions = new SubscriptionStore(config.TABLE_NAME, undefined, config.ATTEMPT_LOG_TTL_DAYS);
const attemptLogs = new AttemptLogStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);
const healthStore = new DeliveryHealthStore(config.TABLE_NAME);
const heldDeliveries = new HeldDeliveryStore(config.TABLE_NAME);
const allowlist = parseAllowlist(config.TARGET_ALLOWLIST);
const queueUrls: Record<DeliveryLane | 'dlq', string> = {
  fast: config.DELIVERY_QUEUE_URL,
  slow: config.SLOW_DELIVERY_QUEUE_URL,
  dlq: config.DELIVERY_DLQ_URL,
};

/** The seams of delivery, replaceable in tests (e.g. to inject a failure mid-batch). */
export const deliveryDeps: DeliveryBatchDeps = {
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
  answerTimeoutMs: { fast: config.FAST_LANE_ANSWER_MS },
  maxDelaySeconds: DELIVERY.maxDelaySeconds,
  origin: config.WEBHOOK_ORIGIN,
  resolvePayload: resolveClaimCheckedPayload,
  stores: {
    getState: (keys) => readDeliveryState(config.TABLE_NAME, keys),
    getHealth: (projectId, subscriptionId) => healthStore.get(projectId, subscriptionId),
    saveHealth: (projectId, subscriptionId, before, after) => healthStore.save(projectId, subscriptionId, before, after),
    claimProbe: (projectId, subscriptionId, now, until) => healthStore.claimProbe(projectId, subscriptionId, now, until),
    reserveRate: (...args) => healthStore.reserve(...args),
    claimRateSlot: (...args) => healthStore.claimRateSlot(...args),
    recordDeadDelivery: (...args) => subscriptions.recordDeadDelivery(...args),
    resetDeadDeliveries: (projectId, subscriptionId) => subscriptions.resetDeadDeliveries(projectId, subscriptionId),
    park: (...args) => heldDeliveries.park(...args),
    oldestHeld: (...args) => heldDeliveries.oldest(...args),
    removeHeld: (...args) => heldDeliveries.remove(...args),
    settleHeld: (...args) => heldDeliveries.settleCount(...args),
    scheduleWake: (...args) => heldDeliveries.scheduleWake(...args),
    clearWake: (...args) => heldDeliveries.clearWake(...args),
  },
  writeAttempts: (attempts) => {
    // At DEBUG (`POWERTOOLS_LOG_LEVEL=DEBUG`) each attempt is a log line too; at INFO the attempt log alone keeps it.
    if (['DEBUG', 'TRACE'].includes(logger.getLevelName())) {
      for (const { webhookId, event, target, attempt, outcome, statusCode, durationMs } of attempts) {
        logger.debug('delivery attempt', { webhookId, event, target, attempt, outcome, statusCode, durationMs });
      }
    }
    return attemptLogs.write(attempts);
  },
  reschedule: (lane, changes) => changeVisibility(queueUrls[lane], changes),
  send: (queue, messages) => trySendMessages(queueUrls[queue], messages),
  report: {
    metric: (name, count) => metrics.addMetric(name, 'Count', count),
    info: (message, fields) => logger.info(message, fields),
    warn: (message, fields) => logger.warn(message, fields),
    error: (message, fields) => logger.error(message, fields),
  },
  settings: { ...DELIVERY, autoDisableAfterDead: config.AUTO_DISABLE_AFTER_DEAD, circuitCooldownSeconds: config.CIRCUIT_COOLDOWN_SECONDS },
};

/**
 * The batch handler of one lane: every decision is `deliverBatch`'s (lambdas/core/delivery-batch.ts).
 * A fast-lane batch that a slow receiver holds takes more of the lane's messages meanwhile
 * (lambdas/core/work-while-held.ts), while over half the function's time is left.
 */
export const deliverBatchIn =
  (lane: DeliveryLane) =>
  async (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
    if (lane !== 'fast' || !context) return batchResponse(await deliverBatchOf(lane, event.Records, deliveryDeps));
    const openPosts = new OpenPosts();
    const failed = await workWhileHeld(deliverBatchOf(lane, event.Records, deliveryDeps, openPosts), {
      afterMs: DELIVERY.workWhileHeldAfterMs,
      idleMs: DELIVERY.workWhileHeldIdleMs,
      idleMaxMs: DELIVERY.workWhileHeldIdleMaxMs,
      openPosts,
      subscriptionsOf,
      setAsideMax: DELIVERY.batchSize,
      hasTimeFor: () => context.getRemainingTimeInMillis() > (DELIVERY.functionTimeoutSeconds * 1000) / 2,
      queue: {
        receive: () => receiveVisible(queueUrls.fast),
        remove: (messages) => deleteMessages(queueUrls.fast, messages.map((message) => message.receiptHandle)),
        release: (messages, seconds) => changeVisibility(queueUrls.fast, messages.map(({ receiptHandle }) => ({ receiptHandle, visibilitySeconds: seconds }))),
      },
      handle: (messages) => deliverBatchOf('fast', messages, deliveryDeps, openPosts),
      retrySeconds: 30,
      report: deliveryDeps.report,
    });
    return batchResponse(failed);
  };

const batchResponse = (failed: string[]): SQSBatchResponse => ({ batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) });

/** The function's own lane (DELIVERY_LANE); the local stack builds both with {@link deliverBatchIn}. */
export const deliverBatch = deliverBatchIn(config.DELIVERY_LANE);

export const handler = instrument(deliverBatch);

/**
 * Each lane's handler, bound to its lane whatever DELIVERY_LANE says: the local stack runs both
 * lanes from this one module (the template's `localExport` of each lane's function).
 */
export const fastLaneHandler = instrument(deliverBatchIn('fast'));
export const slowLaneHandler = instrument(deliverBatchIn('slow'));
