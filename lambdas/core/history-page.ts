import { Attempt } from './attempt';
import { ValidationError } from './errors';
import { stringifyJson } from './json-text';

/** Attempts per page of Tiledesk's `GET /subscriptions/history?page=N` (its routes/subscription.js). */
export const TILEDESK_HISTORY_PAGE_SIZE = 40;

/**
 * The deepest page served: a page is found by reading every newer attempt (the store pages by
 * cursor, not by offset), so deep pages cost in proportion; `limit`/`cursor` reach further.
 */
export const TILEDESK_HISTORY_MAX_PAGE = 100;

/**
 * Past this many bytes of attempts a page still lists its 40 attempts, but without their
 * payloads: 40 attempts of 256 KB events would exceed what a Lambda may answer (6 MB). The
 * `limit`/`cursor` listing, which ends a page at about 1 MB instead, shows them whole.
 */
export const TILEDESK_HISTORY_PAGE_BYTES = 1024 * 1024;

/** `payloadOmitted` of an attempt whose payload a history page left out. */
export const PAYLOAD_LEFT_OUT = 'left out of this page for size; the limit/cursor listing has it';

/**
 * The most partition queries one `?page=N` request may cost. The store pages by cursor, each
 * chunk of a deep page starts a merge of every (subscription × shard) partition again, so page N
 * costs about (40·(N+1) / chunk) × partitions queries: 28,000 for page 100 of a project with 160
 * subscriptions' logs (a security probe), past the function's 10 s. ~3,200 is two chunks of the
 * largest project (200 subscriptions' logs × 8 shards), well inside it.
 */
export const TILEDESK_HISTORY_QUERY_BUDGET = 3200;

/** How many reads (each a merge of every partition) one history page may make: two at least. */
export const historyReadBudget = (partitions: number): number =>
  Math.max(2, Math.floor(TILEDESK_HISTORY_QUERY_BUDGET / Math.max(1, partitions)));

const USE_THE_CURSOR = 'use limit and cursor to read further back';

/** Time a history page keeps for answering once it stops reading. */
const TIME_MARGIN_MS = 1000;

/**
 * Why page `page` of a history merging `partitions` partitions is refused before reading (too
 * deep for one request even if every read brings `chunkLimit` attempts), or undefined. Page 0
 * is always served: it costs what a limit/cursor page does.
 */
export function historyPageProblem(page: number, partitions: number, chunkLimit: number): string | undefined {
  if (page === 0) return undefined;
  const reads = historyReadBudget(partitions);
  if (Math.ceil(((page + 1) * TILEDESK_HISTORY_PAGE_SIZE) / chunkLimit) <= reads) return undefined;
  const deepest = Math.max(0, Math.floor((reads * chunkLimit) / TILEDESK_HISTORY_PAGE_SIZE) - 1);
  return `too deep for this project's history (it merges ${partitions} log partitions): at most ${deepest} here; ${USE_THE_CURSOR}`;
}

/** Reads the project's attempts, newest first, a cursor page at a time. */
export type AttemptPageReader = (limit: number, cursor: string | undefined) => Promise<{ items: Attempt[]; nextCursor: string | null }>;

/**
 * Tiledesk's history page `page` (0 first): attempts `page × 40` to `page × 40 + 39`, newest
 * first, as its `skip(page * 40).limit(40)` over logs sorted newest first. Built on the cursor
 * listing, whose pages may hold fewer attempts than asked (they end at about 1 MB), so it
 * reads on until it has skipped and collected enough or the history ends.
 */
export async function readTiledeskHistoryPage(
  page: number,
  read: AttemptPageReader,
  chunkLimit: number,
  maxReads = Infinity,
  timeLeftMs?: () => number,
): Promise<Attempt[]> {
  const skip = page * TILEDESK_HISTORY_PAGE_SIZE;
  const wanted = skip + TILEDESK_HISTORY_PAGE_SIZE;
  const entries: Attempt[] = [];
  let seen = 0;
  let reads = 0;
  let slowestReadMs = 0;
  let cursor: string | undefined;
  do {
    // Reads end at ~1 MB of attempts, so large payloads take more reads than the arithmetic of
    // `historyPageProblem` assumes: past the budget, a page still being skipped to is refused,
    // and a page being collected ends short (its remaining attempts are on the cursor listing).
    // So too when the function's time would not hold another read as slow as the slowest so far
    // (slow storage, a busy machine): a 400 naming page, not the 5xx of a timeout.
    const outOfTime = timeLeftMs !== undefined && reads > 0 && timeLeftMs() < 2 * slowestReadMs + TIME_MARGIN_MS;
    if (reads >= maxReads || outOfTime) {
      if (seen < skip) {
        const why = outOfTime ? 'the pages before it take longer to read than one request may' : `its attempts are large: the pages before it take more than ${maxReads} reads`;
        const message = `too deep for this project's history (${why}); ${USE_THE_CURSOR}`;
        throw new ValidationError(`page: ${message}`, [{ field: 'page', message }]);
      }
      break;
    }
    reads++;
    const readStarted = Date.now();
    const { items, nextCursor } = await read(Math.min(chunkLimit, wanted - seen), cursor);
    slowestReadMs = Math.max(slowestReadMs, Date.now() - readStarted);
    for (const attempt of items) {
      if (seen >= skip && entries.length < TILEDESK_HISTORY_PAGE_SIZE) entries.push(attempt);
      seen++;
    }
    cursor = nextCursor ?? undefined;
  } while (cursor && seen < wanted);
  return withinBytes(entries);
}

/**
 * Leaves out the payloads of the attempts that would take the page past its byte budget
 * (measured by the serializer without recursion: payloads may be nested thousands deep).
 */
function withinBytes(entries: Attempt[]): Attempt[] {
  let bytes = 0;
  return entries.map((entry) => {
    const whole = Buffer.byteLength(stringifyJson(entry));
    if (bytes + whole <= TILEDESK_HISTORY_PAGE_BYTES || entry.payload === undefined) {
      bytes += whole;
      return entry;
    }
    const { payload: _payload, ...rest } = entry;
    const trimmed: Attempt = { ...rest, payloadOmitted: PAYLOAD_LEFT_OUT };
    bytes += Buffer.byteLength(stringifyJson(trimmed));
    return trimmed;
  });
}
