import { Attempt, newLogId } from './attempt';
import { DeliveryMessage } from './delivery-message';
import { RetryOptions, nextRetry, parseRetryAfter } from './retry-schedule';
import { webhookHeaders } from './signing';
import { Subscription, signingSecrets, toView } from './subscription';

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

  const result = await postSigned(subscription, message.webhookId, message.payload, attemptedAt, deps);
  const logged = {
    ...base,
    target: subscription.target,
    statusCode: result.statusCode,
    durationMs: result.durationMs,
    error: result.error,
    errorKind: result.errorKind,
    responseBody: result.body || undefined,
    payload: message.payload,
  };

  const status = result.statusCode;
  if (isSuccess(result)) {
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
      attempt: { ...logged, outcome: 'dead', error: `${failure}; retries exhausted, moved to the DLQ` },
    };
  }
  return {
    verdict: { done: false, visibilitySeconds: decision.delaySeconds },
    attempt: {
      ...logged,
      outcome: 'failed',
      error: failure,
      nextAttemptAt: new Date(attemptedAt.getTime() + decision.delaySeconds * 1000).toISOString(),
    },
  };
}

/**
 * Signs and POSTs one webhook: body `{hook, timestamp, payload}`, Standard Webhooks headers
 * signed with every secret in force (two during a rotation).
 */
export function postSigned(
  subscription: Subscription,
  webhookId: string,
  payload: Record<string, unknown>,
  at: Date,
  deps: Pick<DeliveryDeps, 'post' | 'userAgent'>,
): Promise<PostOutcome> {
  const body = JSON.stringify({ hook: toView(subscription), timestamp: at.getTime(), payload });
  return deps.post({
    url: subscription.target,
    body,
    headers: webhookHeaders({
      secrets: signingSecrets(subscription, at),
      webhookId,
      timestampSeconds: Math.floor(at.getTime() / 1000),
      body,
      userAgent: deps.userAgent,
    }),
  });
}

/** True for a 2xx answer that arrived whole. */
export const isSuccess = (result: PostOutcome): boolean =>
  result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300 && !result.error;

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
