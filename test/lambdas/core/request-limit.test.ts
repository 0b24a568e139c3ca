import { decide, parseRequestLimit, retryAfterSeconds, toleranceMs } from '../../../lambdas/core/request-limit';

const limit = { ratePerSecond: 2, burst: 3 };

describe('decide (GCRA)', () => {
  it('lets a burst through after a quiet spell, then one request per interval', () => {
    let tat: number | undefined;
    const outcomes: boolean[] = [];
    for (let n = 0; n < 5; n++) {
      const decision = decide(tat, 10_000, limit);
      outcomes.push(decision.allowed);
      if (decision.allowed) tat = decision.tatMs;
    }
    expect(outcomes).toEqual([true, true, true, false, false]);
    // One interval (500 ms) later, exactly one more.
    expect(decide(tat, 10_500, limit).allowed).toBe(true);
  });

  it('says how long to wait, as a Retry-After of whole seconds', () => {
    const decision = decide(10_000 + toleranceMs(limit) + 700, 10_000, limit);
    expect(decision).toEqual({ allowed: false, retryAfterMs: 700 });
    expect(retryAfterSeconds(700)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(2100)).toBe(3);
  });

  it('treats a TAT in the past as none', () => {
    expect(decide(1_000, 10_000, limit)).toEqual({ allowed: true, tatMs: 10_500 });
  });
});

describe('parseRequestLimit', () => {
  const defaults = { ratePerSecond: 10, burst: 40 };
  it.each([
    [undefined, defaults],
    ['', defaults],
    ['5', { ratePerSecond: 5, burst: 10 }],
    ['5,7', { ratePerSecond: 5, burst: 7 }],
    [' 0 ', { ratePerSecond: 0, burst: 1 }],
  ])('reads %p', (raw, expected) => {
    expect(parseRequestLimit('PROJECT_API_LIMIT', raw, defaults)).toEqual(expected);
  });

  it.each(['lots', '-1', '5,0', '1.5', '5,6,7'])('refuses %p in one line naming the setting', (raw) => {
    expect(() => parseRequestLimit('PROJECT_API_LIMIT', raw, defaults)).toThrow(
      new RegExp(`^PROJECT_API_LIMIT=${raw.replace(/[.+]/g, '\\$&')} is not valid: use <requests per second>\\[,<burst>\\]`),
    );
  });
});
