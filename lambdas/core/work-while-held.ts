// A fast-lane invocation that a slow receiver holds takes more of its queue's messages meanwhile
// (docs/design.md §3.2, "A held invocation works its queue").
import type { DeliveryReport, ReceivedMessage } from './delivery-batch';

/** The lane's own queue, as the invocation reaches it with its function's role. */
export interface LaneQueue {
  /** Messages visible now, at most ten, without waiting for more (a short poll). */
  receive(): Promise<ReceivedMessage[]>;
  /** Deletes handled messages, as the event source does with those a batch did not report failed. */
  remove(messages: ReceivedMessage[]): Promise<void>;
}

export interface WorkWhileHeldOptions {
  /** How long the event source's batch runs before the invocation starts taking more. */
  afterMs: number;
  /** The wait after a receive that found nothing. */
  idleMs: number;
  /** Whether the function has time left for one more batch of its own. */
  hasTimeFor: () => boolean;
  queue: LaneQueue;
  /** Handles taken messages as the event source's batch is handled: the ids of those to leave on the queue. */
  handle: (messages: ReceivedMessage[]) => Promise<string[]>;
  report: Pick<DeliveryReport, 'metric' | 'warn' | 'error'>;
}

/**
 * Waits for `batch`; if it has not ended after `afterMs` (a receiver is slow to answer, and the
 * event source's poller waits with it), receives the lane's visible messages and handles them
 * one batch at a time until `batch` ends or time runs short. Their handling is the event
 * source's: those handled are deleted, those reported failed are left to return (the handler
 * has set their visibility), and if handling or deleting fails the messages return after the
 * queue's visibility timeout, as a failed invocation's would. Resolves or rejects as `batch` does.
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
  while (!ended && options.hasTimeFor()) {
    let taken: ReceivedMessage[];
    try {
      taken = await options.queue.receive();
    } catch (error) {
      options.report.warn('could not take more messages while the batch was held', { error: String(error) });
      break;
    }
    if (taken.length === 0) {
      await pauseUnless(end, options.idleMs);
      continue;
    }
    options.report.metric('DeliveryMessagesTakenWhileHeld', taken.length);
    try {
      const left = new Set(await options.handle(taken));
      const done = taken.filter((message) => !left.has(message.messageId));
      if (done.length > 0) await options.queue.remove(done);
    } catch (error) {
      // Handled or not, they return after the visibility timeout: at least once, never lost.
      options.report.error('messages taken while the batch was held could not be settled; they return after the visibility timeout', {
        messages: taken.length,
        error: String(error),
      });
      break;
    }
  }
  return batch;
}

/** Waits `ms`, or less if `end` settles first; leaves no timer behind. */
async function pauseUnless(end: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([end, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
