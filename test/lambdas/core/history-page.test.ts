import { Attempt } from '../../../lambdas/core/attempt';
import {
  AttemptPageReader,
  PAYLOAD_LEFT_OUT,
  TILEDESK_HISTORY_MAX_PAGE,
  TILEDESK_HISTORY_PAGE_BYTES,
  TILEDESK_HISTORY_QUERY_BUDGET,
  historyPageProblem,
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

  it('keeps every served page within the budget', () => {
    for (const partitions of [8, 80, 400, 800, 1296, 1600]) {
      for (let page = 0; page <= TILEDESK_HISTORY_MAX_PAGE; page++) {
        if (historyPageProblem(page, partitions, 200) === undefined) {
          expect(Math.ceil(((page + 1) * 40) / 200) * partitions).toBeLessThanOrEqual(TILEDESK_HISTORY_QUERY_BUDGET);
        }
      }
    }
  });
});
