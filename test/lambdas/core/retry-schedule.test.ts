import { nextRetry, parseRetryAfter } from '../../../lambdas/core/retry-schedule';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY } from '../../../lambdas/core/settings';

const options = {
  schedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
  jitter: DELIVERY.jitter,
  retryAfterMinSeconds: DELIVERY.retryAfterMinSeconds,
  retryAfterMaxSeconds: DELIVERY.retryAfterMaxSeconds,
};

describe('nextRetry', () => {
  test.each(DEFAULT_RETRY_SCHEDULE_SECONDS.map((delay, index) => [index, delay]))(
    'with %i retries spent the delay is %i s ± 20 %, even past 12 h',
    (spent, delay) => {
      const low = nextRetry(spent, undefined, { ...options, random: () => 0 });
      const high = nextRetry(spent, undefined, { ...options, random: () => 0.999999 });
      expect(low).toEqual({ retry: true, delaySeconds: Math.round(delay * 0.8) });
      expect(high.retry && high.delaySeconds).toBe(Math.round(delay * 1.2));
    },
  );

  test('the schedule ends once every retry is spent', () => {
    expect(nextRetry(DEFAULT_RETRY_SCHEDULE_SECONDS.length, undefined, options)).toEqual({ retry: false });
  });

  test('Retry-After replaces the delay, clamped to the bounds', () => {
    expect(nextRetry(1, 120, options)).toEqual({ retry: true, delaySeconds: 120 });
    expect(nextRetry(1, 0, options)).toEqual({ retry: true, delaySeconds: DELIVERY.retryAfterMinSeconds });
    expect(nextRetry(1, 10 ** 9, options)).toEqual({ retry: true, delaySeconds: DELIVERY.retryAfterMaxSeconds });
  });

  test('Retry-After does not extend a spent schedule', () => {
    expect(nextRetry(8, 30, options)).toEqual({ retry: false });
  });
});

describe('parseRetryAfter', () => {
  test('seconds, HTTP dates, and garbage', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
