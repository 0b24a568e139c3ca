import { Attempt, newLogId } from './attempt';
import { DeliveryMessage } from './delivery-message';
import { RetryOptions, nextRetry, parseRetryAfter } from './retry-schedule';
import { webhookHeaders } from './signing';
import { Subscription, toView } from './subscription';

/** One received delivery message and how often SQS has handed it out. */
export interface DeliveryJob {
  message: DeliveryMessage;
  /** SQS ApproximateReceiveCount: the attempt number. */
  receiveCount: number;
}

/** What becomes of a job: done (delete the message), or try again after a delay. */
export type DeliveryVerdict = { done: true } | { done: false; visibilitySeconds: number };

/** The outcome of one POST, as the HTTP adapter reports it. */
export interface PostOutcome {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  durationMs: number;
  error?: string;
  errorKind?: string;
}

export interface PostRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What delivering needs from the outside world. */
export interface DeliveryDeps {
  post(request: PostRequest): Promise<PostOutcome>;
  /** Removes a subscription whose target answered 410 Gone. */
  unsubscribe(subscription: Subscription): Promise<void>;
  retry: RetryOptions;
  userAgent: string;
  now?: () => Date;
}

/** Whether the attempt with this many receives is the schedule's last. */
export const isLastAttempt = (receiveCount: number, retry: RetryOptions): boolean =>
  receiveCount > retry.schedule.length;

/**
 * Delivers one job to its subscription (already read from the store; `undefined` when it has
 * been deleted) and returns the verdict plus the attempt to log. Success is any 2xx; 410
 * unsubscribes; anything else retries on the schedule until it is spent, then the message is
 * left to SQS's redrive policy, which moves it to the DLQ.
 */
export async function deliverJob(
  job: DeliveryJob,
  subscription: Subscription | undefined,
  deps: DeliveryDeps,
): Promise<{ verdict: DeliveryVerdict; attempt: Attempt }> {
  const { message } = job;
  const attemptedAt = deps.now?.() ?? new Date();
  const base = {
    logId: newLogId(attemptedAt),
    projectId: message.projectId,
    subscriptionId: message.subscriptionId,
    webhookId: message.webhookId,
    eventId: message.eventId,
    event: message.event,
    attempt: job.receiveCount,
    attemptedAt: attemptedAt.toISOString(),
  };
  const skip = skipReason(message, subscription);
  if (skip || !subscription) {
    return {
      verdict: { done: true },
      attempt: {
        ...base,
        target: subscription?.target ?? '',
        outcome: 'skipped',
        durationMs: 0,
        error: skip ?? 'subscription deleted',
        payload: message.payload,
      },
    };
  }

  const timestampSeconds = Math.floor(attemptedAt.getTime() / 1000);
  const body = JSON.stringify({ hook: toView(subscription), timestamp: attemptedAt.getTime(), payload: message.payload });
  const result = await deps.post({
    url: subscription.target,
    body,
    headers: webhookHeaders({
      secrets: [subscription.secret],
      webhookId: message.webhookId,
      timestampSeconds,
      body,
      userAgent: deps.userAgent,
    }),
  });
  const logged = {
    ...base,
    target: subscription.target,
    statusCode: result.statusCode,
    durationMs: result.durationMs,
    error: result.error,
    errorKind: result.errorKind,
    responseBody: result.body || undefined,
  };

  const status = result.statusCode;
  if (status !== undefined && status >= 200 && status < 300 && !result.error) {
    return { verdict: { done: true }, attempt: { ...logged, outcome: 'delivered' } };
  }
  if (status === 410) {
    await deps.unsubscribe(subscription);
    return {
      verdict: { done: true },
      attempt: { ...logged, outcome: 'unsubscribed', error: 'target answered 410 Gone: subscription removed (REST Hooks)' },
    };
  }
  const failure = result.error ?? `target answered ${status}`;
  const retryAfter = parseRetryAfter(headerValue(result.headers['retry-after']));
  const decision = nextRetry(job.receiveCount, retryAfter, deps.retry);
  if (!decision.retry) {
    return {
      verdict: { done: false, visibilitySeconds: 0 },
      attempt: { ...logged, outcome: 'dead', error: `${failure}; retries exhausted, moved to the DLQ`, payload: message.payload },
    };
  }
  return {
    verdict: { done: false, visibilitySeconds: decision.delaySeconds },
    attempt: {
      ...logged,
      outcome: 'failed',
      error: failure,
      nextAttemptAt: new Date(attemptedAt.getTime() + decision.delaySeconds * 1000).toISOString(),
      payload: message.payload,
    },
  };
}

/** Why a message must not be POSTed any more, if it must not. */
function skipReason(message: DeliveryMessage, subscription: Subscription | undefined): string | undefined {
  if (!subscription) return 'subscription deleted after the event was fanned out';
  if (subscription.id_project !== message.projectId) return 'subscription belongs to another project';
  if (subscription.status !== 'active') {
    return `subscription disabled${subscription.disabledReason ? `: ${subscription.disabledReason}` : ''}`;
  }
  if (subscription.event !== message.event) return `subscription now listens to ${subscription.event}, not ${message.event}`;
  return undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
