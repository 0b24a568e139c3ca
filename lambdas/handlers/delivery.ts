import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY, SERVICE_VERSION } from '../../lib/settings';
import { parseAllowlist } from '../core/address-policy';
import { Attempt } from '../core/attempt';
import { DeliveryDeps, DeliveryJob, deliverJob } from '../core/deliver';
import { deliveryMessageSchema } from '../core/delivery-message';
import { Subscription } from '../core/subscription';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import { readConfig, secondsList } from '../adapters/config';
import { instrument, logger, metrics } from '../adapters/observability';
import { VisibilityChange, changeVisibility } from '../adapters/sqs-queue';
import { SubscriptionStore } from '../adapters/subscription-store';
import { postWebhook } from '../adapters/webhook-client';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    DELIVERY_QUEUE_URL: z.string().min(1),
    RETRY_SCHEDULE: secondsList.default([...DEFAULT_RETRY_SCHEDULE_SECONDS]),
    DELIVERY_TIMEOUT_MS: z.coerce.number().int().positive().default(DELIVERY.timeoutMs),
    TARGET_ALLOWLIST: z.string().optional(),
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
    AUTO_DISABLE_AFTER_DEAD: z.coerce.number().int().positive().default(DELIVERY.autoDisableAfterDead),
  }),
);

const subscriptions = new SubscriptionStore(config.TABLE_NAME);
const attemptLogs = new AttemptLogStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);
const allowlist = parseAllowlist(config.TARGET_ALLOWLIST);

/** The seams of delivery, replaceable in tests (e.g. to inject a failure mid-batch). */
export const deliveryDeps: DeliveryDeps & {
  writeAttempts: (attempts: Attempt[]) => Promise<void>;
  reschedule: (changes: VisibilityChange[]) => Promise<void>;
} = {
  post: (request) =>
    postWebhook({
      ...request,
      timeoutMs: config.DELIVERY_TIMEOUT_MS,
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
  userAgent: `tiledesk-webhooks/${SERVICE_VERSION}`,
  writeAttempts: (attempts) => attemptLogs.write(attempts),
  reschedule: (changes) => changeVisibility(config.DELIVERY_QUEUE_URL, changes),
};

/**
 * Delivers a batch in parallel: one BatchGetItem for the subscriptions, one POST per message,
 * one BatchWriteItem for the attempt logs, one visibility change per ten retries. A message
 * that cannot be parsed is failed at once so it reaches the DLQ; if the attempt logs cannot be
 * written the invocation throws and the whole batch is retried (at-least-once).
 */
export async function deliverBatch(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchItemFailure[] = [];
  const changes: VisibilityChange[] = [];
  const jobs: { messageId: string; receiptHandle: string; job: DeliveryJob }[] = [];
  for (const record of event.Records) {
    const parsed = deliveryMessageSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      logger.error('malformed delivery message, sending it towards the DLQ', { messageId: record.messageId });
      failures.push({ itemIdentifier: record.messageId });
      changes.push({ receiptHandle: record.receiptHandle, visibilitySeconds: 0 });
      continue;
    }
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    jobs.push({ messageId: record.messageId, receiptHandle: record.receiptHandle, job: { message: parsed.data, receiveCount } });
  }

  const found = await subscriptions.getMany(
    jobs.map(({ job }) => ({ projectId: job.message.projectId, subscriptionId: job.message.subscriptionId })),
  );
  const results = await Promise.all(
    jobs.map(async (entry) => ({ entry, ...(await deliverJob(entry.job, found.get(entry.job.message.subscriptionId), deliveryDeps)) })),
  );

  await deliveryDeps.writeAttempts(results.map((result) => result.attempt));
  await trackHealth(results.map((result) => result.attempt), found);
  for (const { entry, verdict, attempt } of results) {
    metrics.addMetric(`Attempt_${attempt.outcome}`, 'Count', 1);
    if (attempt.outcome === 'dead') {
      logger.warn('delivery dead-lettered', { webhookId: attempt.webhookId, subscriptionId: attempt.subscriptionId });
    }
    if (verdict.done) continue;
    failures.push({ itemIdentifier: entry.messageId });
    changes.push({ receiptHandle: entry.receiptHandle, visibilitySeconds: verdict.visibilitySeconds });
  }
  if (changes.length > 0) {
    // Throwing here would redeliver the batch's successes; the failures retry anyway, later,
    // after the queue's visibility timeout.
    await deliveryDeps.reschedule(changes).catch((error: unknown) =>
      logger.warn('could not reschedule failed deliveries; they retry after the visibility timeout', {
        error: String(error),
      }),
    );
  }
  return { batchItemFailures: failures };
}

/**
 * Auto-disable: a subscription whose deliveries die `AUTO_DISABLE_AFTER_DEAD` times in a row
 * is disabled; a success clears the streak (one write, only when there is a streak).
 */
async function trackHealth(attempts: Attempt[], found: Map<string, Subscription>): Promise<void> {
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
