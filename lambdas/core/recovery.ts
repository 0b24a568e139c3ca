import { Attempt } from './attempt';
import { DeliveryMessage } from './delivery-message';
import { OPERATOR_SELECT_EVENT } from './event-catalog';

/** A failed attempt whose retry should have happened this long ago is taken as lost. */
const LOST_RETRY_GRACE_MS = 15 * 60 * 1000;

/** The delivery message that resends what an attempt tried to deliver, under the same webhook id. */
export function messageFromAttempt(attempt: Attempt): DeliveryMessage | undefined {
  // operator.select calls were synchronous: a late resend would reach a hook nobody waits on.
  if (!attempt.payload || attempt.event === OPERATOR_SELECT_EVENT) return undefined;
  return {
    webhookId: attempt.webhookId,
    eventId: attempt.eventId,
    event: attempt.event,
    projectId: attempt.projectId,
    subscriptionId: attempt.subscriptionId,
    publishedAt: attempt.attemptedAt,
    payload: attempt.payload,
    // The attempt numbers go on; a resend starts the retry schedule again.
    attempt: attempt.attempt + 1,
    retry: 0,
  };
}

/**
 * What `recover` re-enqueues from a subscription's attempts since a time: per webhook id
 * never delivered, the latest attempt if it was dead-lettered, skipped while the subscription
 * was disabled, or a retry that is long overdue. A webhook id still waiting for a scheduled
 * retry is left alone, so nothing is sent twice by recovery. Plans from attempts without their
 * payloads: the caller reads the chosen ones whole.
 */
export function planRecovery(attempts: Attempt[], now: Date): Attempt[] {
  const byWebhook = new Map<string, Attempt[]>();
  for (const attempt of attempts) {
    byWebhook.set(attempt.webhookId, [...(byWebhook.get(attempt.webhookId) ?? []), attempt]);
  }
  const chosen: Attempt[] = [];
  for (const group of byWebhook.values()) {
    if (group.some((attempt) => attempt.outcome === 'delivered' || attempt.outcome === 'unsubscribed')) continue;
    const latest = group.reduce((a, b) => (a.logId > b.logId ? a : b));
    if (isRecoverable(latest, now) && latest.event !== OPERATOR_SELECT_EVENT) chosen.push(latest);
  }
  return chosen.sort((a, b) => a.logId.localeCompare(b.logId));
}

function isRecoverable(attempt: Attempt, now: Date): boolean {
  if (attempt.webhookId.startsWith(TEST_PING_PREFIX)) return false;
  switch (attempt.outcome) {
    case 'dead':
      return true;
    case 'skipped':
      return (attempt.error ?? '').startsWith('subscription disabled');
    case 'failed':
      return attempt.nextAttemptAt !== undefined && Date.parse(attempt.nextAttemptAt) + LOST_RETRY_GRACE_MS < now.getTime();
    default:
      return false;
  }
}

/** Webhook ids of test pings start with this; they are never recovered. */
export const TEST_PING_PREFIX = 'msg_test_';
