/** Where a failed attempt leads: another try after a delay, or the end of the schedule. */
export type RetryDecision = { retry: true; delaySeconds: number } | { retry: false };

export interface RetryOptions {
  /** Delays in seconds after attempt 1, 2, … */
  schedule: readonly number[];
  /** ± fraction of random spread, so failing subscribers are not retried in lockstep. */
  jitter: number;
  /** Bounds for a subscriber's Retry-After. */
  retryAfterMinSeconds: number;
  retryAfterMaxSeconds: number;
  random?: () => number;
}

/**
 * Decides what follows a failed attempt when `retriesSpent` retries of the schedule have been
 * used before it. A Retry-After the subscriber sent replaces the scheduled delay, clamped to the
 * bounds; otherwise the delay is the schedule's, spread by the jitter. Any length is honoured:
 * waits travel as messages re-sent in hops of SQS's longest delay, not as in-flight visibility.
 */
export function nextRetry(retriesSpent: number, retryAfterSeconds: number | undefined, options: RetryOptions): RetryDecision {
  const scheduled = options.schedule[retriesSpent];
  if (scheduled === undefined) return { retry: false };
  let delay: number;
  if (retryAfterSeconds !== undefined) {
    delay = Math.min(Math.max(retryAfterSeconds, options.retryAfterMinSeconds), options.retryAfterMaxSeconds);
  } else {
    const spread = 1 + (((options.random ?? Math.random)() * 2 - 1) * options.jitter);
    delay = scheduled * spread;
  }
  return { retry: true, delaySeconds: Math.max(0, Math.round(delay)) };
}

/** Reads a Retry-After header: delay-seconds or an HTTP date. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
