// A fast-lane invocation that a slow receiver holds takes more of its queue's messages meanwhile
// (docs/design.md §3.2, "A held invocation works its queue").
import type { DeliveryReport, ReceivedMessage } from './delivery-batch';
import type { OpenPosts } from './open-posts';

/** The lane's own queue, as the invocation reaches it with its function's role. */
export interface LaneQueue {
  /** Messages visible now, at most ten, without waiting for more (a short poll). */
  receive(): Promise<ReceivedMessage[]>;
  /** Deletes handled messages, as the event source does with those a batch did not report failed. */
  remove(messages: ReceivedMessage[]): Promise<void>;
  /** Shows messages again after `seconds` (those whose handling failed). */
  release(messages: ReceivedMessage[], seconds: number): Promise<void>;
}

export interface WorkWhileHeldOptions {
  /** How long the event source's batch runs before the invocation starts taking more. */
  afterMs: number;
  /** The first wait after a receive that found nothing; doubled at each empty one, up to `idleMaxMs`. */
  idleMs: number;
  idleMaxMs: number;
  /** The invocation's open deliveries, which the batch and the taken messages' handling share. */
  openPosts: OpenPosts;
  /** The subscriptions a message is for. */
  subscriptionsOf: (message: ReceivedMessage) => string[];
  /**
   * Taken messages for a subscriber the invocation is still POSTing to wait until the batch ends
   * (they then find its health as the batch left it); this many of them end the taking.
   */
  setAsideMax: number;
  /** Whether the function has time left for one more batch of its own. */
  hasTimeFor: () => boolean;
  queue: LaneQueue;
  /** Handles taken messages as the event source's batch is handled: the ids of those to leave on the queue. */
  handle: (messages: ReceivedMessage[]) => Promise<string[]>;
  /** Seconds before messages whose handling failed are shown again (the batch's "try again"). */
  retrySeconds: number;
  report: Pick<DeliveryReport, 'metric' | 'warn' | 'error'>;
}

/**
 * Waits for `batch`. If it has not ended after `afterMs` (a receiver is slow to answer, or a
 * rate slot is awaited, and the event source's poller waits with it), receives the lane's visible
 * messages and handles them one batch at a time until `batch` ends or time runs short. Their
 * handling is the event source's: those handled are deleted, those reported failed are left to
 * return (the handler has set their visibility). Messages for a subscriber the invocation is
 * still POSTing to are handled once `batch` has ended, so no subscriber gets more POSTs at once
 * than one batch gives it, nor more POSTs before its health says what the batch found. If
 * handling fails, the messages are shown again after `retrySeconds` and the taking stops; if
 * deleting fails, they return after the queue's visibility timeout. Resolves or rejects as
 * `batch` does, after every taken message is settled.
 */
export async function workWhileHeld<T>(batch: Promise<T>, options: WorkWhileHeldOptions): Promise<T> {
  let ended = false;
  const end = batch.then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
    },
  );
  await pauseUnless(end, options.afterMs);
  const setAside: ReceivedMessage[] = [];
  let idleMs = options.idleMs;
  while (!ended && options.hasTimeFor() && setAside.length < options.setAsideMax) {
    let taken: ReceivedMessage[];
    try {
      taken = await options.queue.receive();
    } catch (error) {
      options.report.warn('could not take more messages while the batch was held', { error: String(error) });
      break;
    }
    if (taken.length === 0) {
      await pauseUnless(end, idleMs);
      idleMs = Math.min(idleMs * 2, options.idleMaxMs);
      continue;
    }
    idleMs = options.idleMs;
    options.report.metric('DeliveryMessagesTakenWhileHeld', taken.length);
    const now: ReceivedMessage[] = [];
    for (const message of taken) (options.subscriptionsOf(message).some((id) => options.openPosts.has(id)) ? setAside : now).push(message);
    if (now.length > 0 && !(await settle(now, options))) break;
  }
  await end;
  if (setAside.length > 0) await settle(setAside, options);
  return batch;
}

/** Handles taken messages and deletes those handled; false if their handling failed. */
async function settle(messages: ReceivedMessage[], options: WorkWhileHeldOptions): Promise<boolean> {
  let left: Set<string>;
  try {
    left = new Set(await options.handle(messages));
  } catch (error) {
    options.report.error('messages taken while the batch was held could not be handled; they will be tried again', {
      messages: messages.length,
      error: String(error),
    });
    await options.queue.release(messages, options.retrySeconds).catch((releaseError: unknown) =>
      options.report.warn('could not shorten the visibility of taken messages; they return after the visibility timeout', {
        error: String(releaseError),
      }),
    );
    return false;
  }
  const done = messages.filter((message) => !left.has(message.messageId));
  try {
    if (done.length > 0) await options.queue.remove(done);
  } catch (error) {
    // Handled, not deleted: they come again after the visibility timeout (at least once).
    options.report.warn('taken messages were handled but not all deleted; they return after the visibility timeout', {
      messages: done.length,
      error: String(error),
    });
  }
  return true;
}

/** Waits `ms`, or less if `end` settles first; leaves no timer behind. */
async function pauseUnless(end: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([end, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
