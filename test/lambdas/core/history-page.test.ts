import { Attempt } from '../../../lambdas/core/attempt';
import {
  AttemptPageReader,
  PAYLOAD_LEFT_OUT,
  TILEDESK_HISTORY_MAX_PAGE,
  TILEDESK_HISTORY_PAGE_BYTES,
  TILEDESK_HISTORY_QUERY_BUDGET,
  historyPageProblem,
  historyReadBudget,
  readTiledeskHistoryPage,
} from '../../../lambdas/core/history-page';

const attempt = (n: number, payloadBytes = 10): Attempt => ({
  logId: `log-${n}`,
  projectId: 'p1',
  subscriptionId: 's1',
  webhookId: `msg_${n}`,
  eventId: `e${n}`,
  event: 'request.create',
  target: 'https://hooks.example.com/in',
  attempt: 1,
  outcome: 'delivered',
  statusCode: 200,
  durationMs: 5,
  attemptedAt: new Date(Date.UTC(2026, 10, 1, 0, 0, n)).toISOString(),
  payload: { id_project: 'p1', text: 'x'.repeat(payloadBytes) },
});

/**
 * A cursor listing over `history` (newest first) that, like the store, may end a page early:
 * after `pageCap` attempts whatever the limit. Records every limit asked for.
 */
function listing(history: Attempt[], pageCap = Infinity): { read: AttemptPageReader; limits: number[] } {
  const limits: number[] = [];
  const read: AttemptPageReader = async (limit, cursor) => {
    limits.push(limit);
    const start = cursor ? Number(cursor) : 0;
    const end = Math.min(start + limit, start + pageCap, history.length);
    return { items: history.slice(start, end), nextCursor: end < history.length ? String(end) : null };
  };
  return { read, limits };
}

const history = Array.from({ length: 95 }, (_, n) => attempt(n));

describe("readTiledeskHistoryPage: Tiledesk's skip(page * 40).limit(40)", () => {
  test.each([
    [0, 0, 40],
    [1, 40, 80],
    [2, 80, 95],
    [3, 95, 95],
  ])('page %i holds attempts %i to %i', async (page, from, to) => {
    const { read } = listing(history);
    expect(await readTiledeskHistoryPage(page, read, 200)).toEqual(history.slice(from, to));
  });

  test('reads on through listing pages that end early', async () => {
    const { read, limits } = listing(history, 7);
    expect(await readTiledeskHistoryPage(1, read, 200)).toEqual(history.slice(40, 80));
    expect(limits[0]).toBe(80);
  });

  test('asks for at most the chunk limit at a time, and no further than the page', async () => {
    const { read, limits } = listing(history);
    await readTiledeskHistoryPage(2, read, 50);
    expect(limits).toEqual([50, 50]);
  });

  test('an empty history is an empty page', async () => {
    expect(await readTiledeskHistoryPage(0, listing([]).read, 200)).toEqual([]);
  });

  test('measures attempts whose payloads nest deeper than JSON.stringify can go', async () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 20_000; level++) deep = { d: deep };
    const nested = { ...attempt(0), payload: { id_project: 'p1', deep } };
    expect(await readTiledeskHistoryPage(0, listing([nested]).read, 200)).toEqual([nested]);
  });

  test('keeps 40 attempts but leaves out the payloads past the byte budget', async () => {
    const big = Array.from({ length: 40 }, (_, n) => attempt(n, 256 * 1024));
    const page = await readTiledeskHistoryPage(0, listing(big).read, 200);
    expect(page).toHaveLength(40);
    const whole = page.filter((entry) => entry.payload !== undefined);
    expect(whole.length).toBeGreaterThan(0);
    expect(whole).toEqual(big.slice(0, whole.length));
    expect(page.slice(whole.length).every((entry) => entry.payloadOmitted === PAYLOAD_LEFT_OUT && entry.eventId)).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(TILEDESK_HISTORY_PAGE_BYTES + 64 * 1024);
  });
});

describe('historyPageProblem: a deep page of a large history is refused before it costs tens of thousands of queries', () => {
  it('serves every page of a small project', () => {
    // 3 subscriptions × 8 shards: page 100 is 21 chunks of 200, 504 queries.
    expect(historyPageProblem(TILEDESK_HISTORY_MAX_PAGE, 24, 200)).toBeUndefined();
  });

  it('refuses page 100 of the largest project, naming the deepest it serves', () => {
    // 200 subscriptions' logs × 8 shards; the probe's page 100 of 162 owners took 28,141 queries.
    expect(historyPageProblem(TILEDESK_HISTORY_MAX_PAGE, 1600, 200)).toBe(
      "too deep for this project's history (it merges 1600 log partitions): at most 9 here; use limit and cursor to read further back",
    );
    expect(historyPageProblem(9, 1600, 200)).toBeUndefined();
    expect(historyPageProblem(10, 1600, 200)).toBeDefined();
  });

  it('serves page 0 of any project: it costs what a limit/cursor page does', () => {
    expect(historyPageProblem(0, 4000, 200)).toBeUndefined();
    expect(historyPageProblem(9, 4000, 200)).toBeUndefined();
    expect(historyPageProblem(10, 4000, 200)).toMatch(/at most 9 here/);
  });
});

describe('readTiledeskHistoryPage within its read budget (reads end at ~1 MB, so large attempts take more reads)', () => {
  /** A history of `total` attempts read `perRead` at a time (as a byte cut would), counting the reads. */
  const byteCutReader = (total: number, perRead: number) => {
    let reads = 0;
    const reader: AttemptPageReader = async (limit, cursor) => {
      reads++;
      const start = cursor ? Number(cursor) : 0;
      const end = Math.min(total, start + Math.min(limit, perRead));
      return { items: Array.from({ length: end - start }, (_, n) => attempt(start + n)), nextCursor: end < total ? String(end) : null };
    };
    return { reader, reads: () => reads };
  };

  it('refuses, naming page, a page it would have to read past the budget to reach, after no more reads than the budget', async () => {
    // 800 partitions: 4 reads. Attempts of ~200 KB come 5 a read: page 19 is 160 reads away.
    const history = byteCutReader(10_000, 5);
    const budget = historyReadBudget(800);
    expect(historyPageProblem(19, 800, 200)).toBeUndefined();
    await expect(readTiledeskHistoryPage(19, history.reader, 200, budget)).rejects.toMatchObject({
      errors: [{ field: 'page', message: expect.stringMatching(/^too deep for this project's history \(its attempts are large/) }],
    });
    expect(history.reads()).toBe(budget);
    expect(history.reads() * 800).toBeLessThanOrEqual(TILEDESK_HISTORY_QUERY_BUDGET);
  });

  it('refuses, naming page, when the time left would not hold another read as slow as the slowest so far (a 400, not a timeout)', async () => {
    const history = byteCutReader(10_000, 200);
    const slow: AttemptPageReader = async (limit, cursor) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return history.reader(limit, cursor);
    };
    let left = 1050;
    const timeLeft = () => (left -= 10);
    await expect(readTiledeskHistoryPage(19, slow, 200, historyReadBudget(800), timeLeft)).rejects.toMatchObject({
      errors: [{ field: 'page', message: expect.stringMatching(/^too deep for this project's history \(the pages before it take longer to read than one request may\)/) }],
    });
    expect(history.reads()).toBe(1);
    // With the time, the same page is read whole.
    const plenty = byteCutReader(10_000, 200);
    expect(await readTiledeskHistoryPage(19, plenty.reader, 200, historyReadBudget(800), () => 10_000)).toHaveLength(40);
  });

  it('ends a page being collected short at the budget instead of reading on', async () => {
    const history = byteCutReader(10_000, 5);
    const page = await readTiledeskHistoryPage(0, history.reader, 200, 4);
    expect(page.map((entry) => entry.logId)).toEqual(Array.from({ length: 20 }, (_, n) => `log-${n}`));
    expect(history.reads()).toBe(4);
  });

  it('reads as before when the budget is not reached', async () => {
    const history = byteCutReader(10_000, 200);
    const page = await readTiledeskHistoryPage(19, history.reader, 200, historyReadBudget(800));
    expect(page.map((entry) => entry.logId)).toEqual(Array.from({ length: 40 }, (_, n) => `log-${760 + n}`));
    expect(history.reads()).toBe(4);
  });
});
