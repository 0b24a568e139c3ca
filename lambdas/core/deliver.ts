import type { DeliveryLane } from './settings';
import { LoggedAttempt, newLogId } from './attempt';
import { mayReferToStoredPayload } from './stored-payload';
import { ParsedDeliveryMessage } from './delivery-message';
import type { PostSignal } from './delivery-health';
import { RetryOptions, nextRetry, parseRetryAfter } from './retry-schedule';
import { stringifyJson } from './json-text';
import { webhookHeaders } from './signing';
import { Subscription, signingSecrets, toView } from './subscription';
import { signSubscriptionToken } from './tiledesk-token';

/** One received delivery message, the lane that received it, and whether it is a circuit probe. */
export interface DeliveryJob {
  message: ParsedDeliveryMessage;
  lane: DeliveryLane;
  probe?: boolean;
}

/** Where a message goes next: nowhere (done), or re-sent to a queue after a delay. */
export type Disposition =
  | { kind: 'done' }
  | { kind: 'send'; queue: DeliveryLane | 'dlq'; message: ParsedDeliveryMessage; delaySeconds: number };

/** The outcome of one POST, as the HTTP adapter reports it. */
export interface PostOutcome {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  /** What is stored: secrets redacted. */
  body: string;
  /** As received, for acting on (a routing answer); never stored. */
  receivedBody?: string;
  durationMs: number;
  /** The answer alone, after DNS, connect and TLS; absent when the request was never sent. */
  answerMs?: number;
  error?: string;
  errorKind?: string;
}

export interface PostRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Overrides the sender's own deadline (the fast lane's shorter one). */
  timeoutMs?: number;
  /** A deadline for the answer alone, from the request sent (the fast lane's). */
  answerTimeoutMs?: number;
}

/** What delivering needs from the outside world. */
export interface DeliveryDeps {
  post(request: PostRequest): Promise<PostOutcome>;
  /** Removes a subscription whose target answered 410 Gone. */
  unsubscribe(subscription: Subscription): Promise<void>;
  retry: RetryOptions;
  /** Deadline of a POST per lane. */
  timeoutMs: Record<DeliveryLane, number>;
  /** Deadline of the answer alone (after DNS, connect and TLS), for a lane that has one. */
  answerTimeoutMs?: Partial<Record<DeliveryLane, number>>;
  /** SQS's longest delay; a longer wait is re-sent in hops of it. */
  maxDelaySeconds: number;
  /** The `origin` header of every webhook (Tiledesk's WEBHOOK_ORIGIN). */
  origin: string;
  now?: () => Date;
  /**
   * The payload to POST for a message's payload: reads a claim-checked payload (an event over
   * 256 KB, stored aside) back. @default the payload as it is
   */
  resolvePayload?: (payload: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

/** A message sent again after `seconds`: due then, re-sent in hops when longer than SQS allows. */
export function deferred(
  queue: DeliveryLane | 'dlq',
  message: ParsedDeliveryMessage,
  seconds: number,
  now: number,
  maxDelaySeconds: number,
): Disposition {
  const wait = Math.max(0, Math.ceil(seconds));
  return {
    kind: 'send',
    queue,
    message: { ...message, notBefore: wait > 0 ? now + wait * 1000 : undefined },
    delaySeconds: Math.min(maxDelaySeconds, wait),
  };
}

/**
 * Delivers one job to its subscription (already read from the store; `undefined` when it has
 * been deleted) and returns where the message goes next, the attempt to log and, when a POST
 * was made, its signal for the subscription's health. Success is any 2xx; 410 unsubscribes; a
 * fast-lane timeout tries again at once in the slow lane; anything else retries on the
 * schedule, then goes to the DLQ with a fresh schedule for a later redrive.
 */
export async function deliverJob(
  job: DeliveryJob,
  subscription: Subscription | undefined,
  deps: DeliveryDeps,
): Promise<{ disposition: Disposition; attempt: LoggedAttempt; signal?: PostSignal }> {
  const { message } = job;
  const attemptedAt = deps.now?.() ?? new Date();
  const now = attemptedAt.getTime();
  const base = {
    logId: newLogId(attemptedAt),
    projectId: message.projectId,
    subscriptionId: message.subscriptionId,
    webhookId: message.webhookId,
    eventId: message.eventId,
    event: message.event,
    attempt: message.attempt,
    attemptedAt: attemptedAt.toISOString(),
  };
  const skip = skipReason(message, subscription);
  if (skip || !subscription) {
    return {
      disposition: { kind: 'done' },
      attempt: {
        ...base,
        target: subscription?.target ?? '',
        outcome: 'skipped',
        durationMs: 0,
        error: skip ?? 'subscription deleted',
        ...loggedPayload(message, attemptedAt),
      },
    };
  }

  // Lanes apply only where the fast lane's deadline is shorter than the subscriber's own.
  const lanes = deps.timeoutMs.fast < deps.timeoutMs.slow;
  const answerTimeoutMs = lanes ? deps.answerTimeoutMs?.[job.lane] : undefined;
  const result = await postResolved(subscription, message, attemptedAt, deps, deps.timeoutMs[job.lane], answerTimeoutMs);
  const logged = {
    ...base,
    target: subscription.target,
    statusCode: result.statusCode,
    durationMs: result.durationMs,
    error: result.error,
    errorKind: result.errorKind,
    responseBody: result.body || undefined,
    ...loggedPayload(message, attemptedAt),
  };
  const ok = isSuccess(result);
  // The lane follows how quickly the receiver answers, not how far away it is.
  const signal: PostSignal = { ok, durationMs: result.answerMs ?? result.durationMs, at: now, probe: job.probe };
  // The rate slot this POST used is spent: a retry takes a new one when it is due, and its
  // wait is the schedule's, not a slot's (a kept slot made a long wait end after one SQS hop).
  const following = { ...message, attempt: message.attempt + 1, rateSlotAt: undefined };

  if (ok) return { disposition: { kind: 'done' }, attempt: { ...logged, outcome: 'delivered' }, signal };
  if (result.statusCode === 410) {
    await deps.unsubscribe(subscription);
    return {
      disposition: { kind: 'done' },
      attempt: { ...logged, outcome: 'unsubscribed', error: 'target answered 410 Gone: subscription removed (REST Hooks)' },
      signal: { ...signal, ok: true },
    };
  }
  const failure = result.error ?? `target answered ${result.statusCode}`;
  if (job.lane === 'fast' && result.errorKind === 'timeout' && lanes) {
    return {
      disposition: deferred('slow', following, 0, now, deps.maxDelaySeconds),
      attempt: {
        ...logged,
        outcome: 'failed',
        error: `${failure}; tried again at once in the slow lane, with the full timeout`,
        nextAttemptAt: attemptedAt.toISOString(),
      },
      signal: { ...signal, fastLaneTimeout: true },
    };
  }
  const retryAfter = parseRetryAfter(headerValue(result.headers['retry-after']), now);
  const decision = nextRetry(message.retry, retryAfter, deps.retry);
  if (!decision.retry) {
    return {
      // A redrive from the DLQ starts the schedule again; the attempt numbers go on.
      disposition: { kind: 'send', queue: 'dlq', message: { ...following, retry: 0, notBefore: undefined }, delaySeconds: 0 },
      attempt: { ...logged, outcome: 'dead', error: `${failure}; retries exhausted, moved to the DLQ` },
      signal,
    };
  }
  return {
    disposition: deferred(job.lane, { ...following, retry: message.retry + 1 }, decision.delaySeconds, now, deps.maxDelaySeconds),
    attempt: {
      ...logged,
      outcome: 'failed',
      error: failure,
      nextAttemptAt: new Date(now + decision.delaySeconds * 1000).toISOString(),
    },
    signal,
  };
}

/**
 * Claim-checked payloads are read back only here, just before the POST, so queues and attempt
 * logs keep carrying the small claim check; a payload that cannot be read is a failed attempt,
 * retried on the schedule.
 */
async function postResolved(
  subscription: Subscription,
  message: ParsedDeliveryMessage,
  at: Date,
  deps: DeliveryDeps,
  timeoutMs: number,
  answerTimeoutMs: number | undefined,
): Promise<PostOutcome> {
  let payload = message.payload;
  try {
    if (deps.resolvePayload) payload = await deps.resolvePayload(message.payload);
  } catch (error) {
    return { headers: {}, body: '', durationMs: 0, error: `stored payload could not be read: ${String(error)}`, errorKind: 'payload' };
  }
  return postSigned(subscription, message.webhookId, payload, at, deps, timeoutMs, answerTimeoutMs);
}

/**
 * Signs and POSTs one webhook: body `{hook, timestamp, payload, token}` as Tiledesk sends it
 * (`token` signed under the current secret, the one `x-hook-secret` carries: a JWT holds one
 * signature), Standard Webhooks headers signed with every secret in force (two during a
 * rotation).
 */
export function postSigned(
  subscription: Subscription,
  webhookId: string,
  payload: Record<string, unknown>,
  at: Date,
  deps: Pick<DeliveryDeps, 'post' | 'origin'>,
  timeoutMs?: number,
  answerTimeoutMs?: number,
): Promise<PostOutcome> {
  const hook = toView(subscription);
  const token = signSubscriptionToken(hook, subscription.secret, at);
  const body = stringifyJson({ hook, timestamp: at.getTime(), payload, token });
  return deps.post({
    url: subscription.target,
    timeoutMs,
    ...(answerTimeoutMs === undefined ? {} : { answerTimeoutMs }),
    body,
    headers: webhookHeaders({
      secrets: signingSecrets(subscription, at),
      webhookId,
      timestampSeconds: Math.floor(at.getTime() / 1000),
      body,
      origin: deps.origin,
    }),
  });
}

/** True for a 2xx answer that arrived whole. */
export const isSuccess = (result: PostOutcome): boolean =>
  result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300 && !result.error;

/** The attempt's payload: a reference to the event's stored one where it may, else a copy. */
function loggedPayload(message: ParsedDeliveryMessage, attemptedAt: Date): Pick<LoggedAttempt, 'payload' | 'payloadWithEvent'> {
  return mayReferToStoredPayload(message, attemptedAt) ? { payloadWithEvent: true } : { payload: message.payload };
}

/** Why a message must not be POSTed any more, if it must not. */
function skipReason(message: ParsedDeliveryMessage, subscription: Subscription | undefined): string | undefined {
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
