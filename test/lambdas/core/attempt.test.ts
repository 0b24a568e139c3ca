import { newLogId } from '../../../lambdas/core/attempt';

describe('newLogId', () => {
  test('sorts by time and carries ten hex digits of randomness, distinct across refills of its random block', () => {
    const at = new Date(1_700_000_000_000);
    // 2,000 ids draw 10,000 random bytes: past the end of two 4 KB blocks.
    const ids = Array.from({ length: 2000 }, () => newLogId(at));
    for (const id of ids) expect(id).toMatch(/^01700000000000-[0-9a-f]{10}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newLogId(new Date(1_700_000_000_001)) > newLogId(at)).toBe(true);
  });
});
