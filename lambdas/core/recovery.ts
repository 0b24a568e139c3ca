import { DELIVERY } from './settings';
import { sqsRefusal } from './errors';
import { DeliveryHealth, rateBacklog } from './delivery-health';
import type { Subscription } from './subscription';
import { Attempt } from './attempt';
import { DeliveryMessage } from './delivery-message';
import { OPERATOR_SELECT_EVENT } from './event-catalog';
import type { RecoverAnswer } from './api-types';

/** A wake-up of parked deliveries overdue by this much was lost (held-delivery-store's `scheduleWake`). */
const STALE_WAKE_MS = 60_000;

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

/** What recovery knows besides the attempts. */
export interface RecoveryContext {
  /**
   * Epoch ms until which the subscription's deliveries are only waiting, not lost: its open
   * circuit's cool-down, the last slot its rate limit has handed out.
   */
  waitingUntil?: number;
  /**
   * Epoch ms before which the attempts read are complete (a page's end): a retry due later may
   * have been made in the next page, so it is not judged here.
   */
  completeBefore?: number;
}

/**
 * What `recover` re-enqueues from a subscription's attempts since a time: per webhook id
 * never delivered, the latest attempt if it was dead-lettered, skipped while the subscription
 * was disabled, or a retry that is long overdue. A webhook id still waiting for a scheduled
 * retry, or whose subscription holds its deliveries (open circuit, rate limit), is left alone,
 * so nothing is sent twice by recovery. Plans from attempts without their payloads: the caller
 * reads the chosen ones whole.
 */
export function planRecovery(attempts: Attempt[], now: Date, context: RecoveryContext = {}): Attempt[] {
  const byWebhook = new Map<string, Attempt[]>();
  for (const attempt of attempts) {
    byWebhook.set(attempt.webhookId, [...(byWebhook.get(attempt.webhookId) ?? []), attempt]);
  }
  const chosen: Attempt[] = [];
  for (const group of byWebhook.values()) {
    if (group.some((attempt) => attempt.outcome === 'delivered' || attempt.outcome === 'unsubscribed')) continue;
    const latest = group.reduce((a, b) => (a.logId > b.logId ? a : b));
    if (isRecoverable(latest, now, context) && latest.event !== OPERATOR_SELECT_EVENT) chosen.push(latest);
  }
  return chosen.sort((a, b) => a.logId.localeCompare(b.logId));
}

function isRecoverable(attempt: Attempt, now: Date, context: RecoveryContext): boolean {
  if (attempt.webhookId.startsWith(TEST_PING_PREFIX)) return false;
  switch (attempt.outcome) {
    case 'dead':
      return true;
    case 'skipped':
      return (attempt.error ?? '').startsWith('subscription disabled');
    case 'failed': {
      if (attempt.nextAttemptAt === undefined) return false;
      const due = Date.parse(attempt.nextAttemptAt);
      if (context.completeBefore !== undefined && due >= context.completeBefore) return false;
      return Math.max(due, context.waitingUntil ?? 0) + LOST_RETRY_GRACE_MS < now.getTime();
    }
    default:
      return false;
  }
}

/** Webhook ids of test pings start with this; they are never recovered. */
export const TEST_PING_PREFIX = 'msg_test_';

/** What one recover call needs from the stores and the queue. */
export interface RecoverPorts {
  /** A bounded page of the subscription's attempts from a key on, oldest first, without payloads. */
  listPage(fromKey: string): Promise<{ attempts: Attempt[]; nextKey?: string }>;
  /** Marks an attempt recovered; false when a recover has already marked it. */
  claim(logId: string): Promise<boolean>;
  /** Takes a marker back after its delivery could not be sent. */
  release(logId: string): Promise<void>;
  /** The attempt whole, with its payload. */
  read(logId: string): Promise<Attempt | undefined>;
  /** Sends messages to the fast lane; returns those SQS did not take, by index, with the reason (and whether SQS was busy). */
  send(messages: DeliveryMessage[]): Promise<{ index: number; reason: string; busy?: boolean }[]>;
  /** How long the call may still run (the function's remaining time); unbounded when absent. */
  timeLeftMs?(): number;
}

/**
 * A recover call that has sent something starts no new slice with less time than this left: it
 * answers with the page's own key as `nextCursor`, and the next call goes on where it stopped
 * (what it sent counts there as already recovered; each call sends at least one new slice). A function stopped by its timeout mid-slice runs no clean-up, and that
 * slice's markers would count as recovered without their deliveries having been sent.
 */
export const RECOVER_SLICE_RESERVE_MS = 3_000;

/** The answer of one recover call (the API's, `api-types.ts`). */
export type RecoverResult = RecoverAnswer;

/**
 * A key as the API's cursor (`{14 digits}-{10 hex}`): the first page's key is a time alone, and
 * `-0000000000` sorts before every log id of that millisecond.
 */
const asCursor = (key: string): string => (key.includes('-') ? key : `${key}-0000000000`);

/** The first log key of attempts made at or after a time (log ids begin with epoch ms). */
export const logKeyAt = (time: Date): string => time.getTime().toString().padStart(14, '0');

/**
 * One bounded, idempotent recover call: reads one page of attempts from `fromKey`, plans what
 * was lost, marks each chosen attempt recovered (a conditional write: only one recover wins
 * it), and sends only those it won, a few at a time. A marker whose delivery could not be sent
 * is taken back before the error goes up, so a retry of the call may send it.
 */
export async function recoverPage(fromKey: string, now: Date, context: Omit<RecoveryContext, 'completeBefore'>, ports: RecoverPorts, sendPage = 25): Promise<RecoverResult> {
  const page = await ports.listPage(fromKey);
  const completeBefore = page.nextKey === undefined ? undefined : Number(page.nextKey.slice(0, 14));
  const chosen = planRecovery(page.attempts, now, { ...context, completeBefore });
  const sent: string[] = [];
  let unrecoverable = 0;
  let alreadyRecovered = 0;
  /**
   * Markers won whose delivery is not (yet) sent: taken back if anything fails. Claimed a slice
   * at a time, just before the slice is sent, so a function stopped mid-call (its timeout) can
   * strand at most one slice's markers, not a whole page's (up to 2,000).
   */
  let unsent: Attempt[] = [];
  try {
    for (let start = 0; start < chosen.length; start += sendPage) {
      // Stopped only after this call has taken something new, so every call moves on.
      const movedOn = sent.length + unrecoverable > 0;
      if (movedOn && ports.timeLeftMs !== undefined && ports.timeLeftMs() < RECOVER_SLICE_RESERVE_MS) {
        return { recovered: sent.length, webhookIds: sent, alreadyRecovered, unrecoverable, nextCursor: asCursor(fromKey) };
      }
      const candidates = chosen.slice(start, start + sendPage);
      const claims = await Promise.allSettled(candidates.map((attempt) => ports.claim(attempt.logId)));
      const slice = candidates.filter((_, index) => {
        const claim = claims[index]!;
        return claim.status === 'fulfilled' && claim.value;
      });
      unsent = slice;
      const failedClaim = claims.find((claim): claim is PromiseRejectedResult => claim.status === 'rejected');
      if (failedClaim) throw failedClaim.reason;
      alreadyRecovered += candidates.length - slice.length;
      const whole = await Promise.all(slice.map((attempt) => ports.read(attempt.logId)));
      const messages: DeliveryMessage[] = [];
      const sending: Attempt[] = [];
      const unsendable: Attempt[] = [];
      slice.forEach((attempt, index) => {
        const full = whole[index];
        const message = full && messageFromAttempt(full);
        if (message) {
          messages.push(message);
          sending.push(attempt);
        } else unsendable.push(attempt);
      });
      // What SQS took is sent and keeps its marker; only what it refused is taken back, so a
      // retry of the call sends nothing twice (the lanes are standard queues, without dedupe).
      const refused = await ports.send(messages);
      const notTaken = new Set(refused.map((entry) => entry.index));
      sent.push(...messages.filter((_, index) => !notTaken.has(index)).map((message) => message.webhookId));
      unsent = [...sending.filter((_, index) => notTaken.has(index)), ...unsendable];
      if (refused.length > 0) {
        const message = `SQS did not take ${refused.length} of ${messages.length} recovered deliveries: ${refused[0]!.reason}`;
        // SQS busy for all of them: a 503, and the same recover sent again sends only what is left.
        throw sqsRefusal(message, refused);
      }
      unsent = [];
      // Nothing was sent for an attempt whose payload was not kept: its marker goes, so no later
      // call counts it as recovered.
      await Promise.all(unsendable.map((attempt) => ports.release(attempt.logId)));
      unrecoverable += unsendable.length;
    }
  } catch (error) {
    await Promise.all(unsent.map((attempt) => ports.release(attempt.logId)));
    throw error;
  }
  return { recovered: sent.length, webhookIds: sent, alreadyRecovered, unrecoverable, nextCursor: page.nextKey ?? null };
}

/**
 * Until when a subscription's deliveries are only waiting: its open circuit's cool-down (and a
 * probe's lease), the last slot its rate limit has handed out, the next wake-up of its parked
 * deliveries. Such deliveries are not lost.
 */
export function waitingUntil(health: DeliveryHealth, subscription: Pick<Subscription, 'rateLimit'>, now: number): number | undefined {
  const circuit = health.circuit === 'open' ? Math.max(health.openUntil ?? 0, health.probeUntil ?? 0, now) : 0;
  const rate = rateBacklog(health.rateTat, subscription.rateLimit, now, DELIVERY.rateLimitToleranceMs).until ?? 0;
  // Parked deliveries with a wake-up due are being released (after a reset, or a closed
  // circuit, wave after wave): waiting, not lost. A wake-up overdue by more than a minute was
  // lost (as scheduleWake judges it), and waits for nothing.
  const held = health.wakeAt !== undefined && health.wakeAt >= now - STALE_WAKE_MS ? Math.max(health.wakeAt, now) : 0;
  const until = Math.max(circuit, rate, held);
  return until > 0 ? until : undefined;
}
