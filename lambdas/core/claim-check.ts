import * as z from 'zod';
import { CLAIM_CHECK, EVENT_SOURCE } from './settings';
import { EVENT_REFINEMENTS, readPath } from './event-catalog';
import { SQS_UNSAFE_CHARACTERS, escapeSqsUnsafe, jsonText, stringifyJson } from './json-text';
import { chunkBySize } from './batching';

/**
 * Events over EventBridge's entry limit travel as a claim check: the payload is stored aside
 * (S3) and the bus carries a small detail that names it, with the fields routing reads, so the
 * fan-out works unchanged; the payload is fetched back just before each POST.
 */

/** EventBridge's limit on one PutEvents entry, and on a whole PutEvents request. */
export const MAX_EVENT_ENTRY_BYTES = 256 * 1024;

/**
 * The detail member that marks a claim-checked event; Tiledesk payloads have no such field, and
 * a payload published with it is refused (POST /{projectId}/events, ingest) or, on the bus,
 * taken only when it points at the project's own stored payloads ({@link checkClaimCheckBinding}).
 */
export const CLAIM_CHECK_FIELD = 'tiledeskWebhooksClaimCheck';

/**
 * Where a project's stored payloads live: under the key prefix, then the project id, encoded so
 * that no project id can name a prefix of another's (`a/b` is `a%2Fb`, not under `a/`).
 */
export const claimCheckPrefixOf = (projectId: string): string => `${CLAIM_CHECK.keyPrefix}${encodeURIComponent(projectId)}/`;

/** A claim check this deployment did not write for this project: never read. */
export class ForeignClaimCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForeignClaimCheckError';
  }
}

/**
 * Throws {@link ForeignClaimCheckError} unless the claim check names the configured bucket and a
 * key under the project's own prefix: a pointer published inside a payload could otherwise make
 * delivery read another project's payload (or any bucket's object) and send it to this project's
 * receivers. Checked before anything is read.
 */
export function checkClaimCheckBinding(claimCheck: ClaimCheck, projectId: unknown, bucket: string | undefined): void {
  if (bucket === undefined || claimCheck.bucket !== bucket) {
    throw new ForeignClaimCheckError(`${CLAIM_CHECK_FIELD} names a bucket that is not this deployment's claim-check bucket`);
  }
  if (typeof projectId !== 'string' || !claimCheck.key.startsWith(claimCheckPrefixOf(projectId))) {
    throw new ForeignClaimCheckError(`${CLAIM_CHECK_FIELD} names a key outside the project's own (${CLAIM_CHECK.keyPrefix}{projectId}/…)`);
  }
}

/**
 * 400-worthy: the field names of `payloads` (at `fieldOf(index)`) that carry the reserved
 * {@link CLAIM_CHECK_FIELD}; empty when none does.
 */
export function reservedFieldsIn(payloads: readonly Record<string, unknown>[], fieldOf: (index: number) => string): string[] {
  return payloads.flatMap((payload, index) => (Object.hasOwn(payload, CLAIM_CHECK_FIELD) ? [fieldOf(index)] : []));
}

export const claimCheckSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  /** Size of the stored payload JSON. */
  bytes: z.number().int().nonnegative(),
});
/** Where a claim-checked payload is stored. */
export type ClaimCheck = z.infer<typeof claimCheckSchema>;

/** A Tiledesk event to publish: its name and payload. */
export interface TiledeskEvent {
  event: string;
  payload: Record<string, unknown>;
}

/** One PutEvents entry, as this service publishes them. */
export interface BusEntry {
  detailType: string;
  /** The detail's JSON. */
  detail: string;
}

/**
 * The size EventBridge counts for an entry: Source, DetailType and Detail in UTF-8, plus the
 * 14 bytes it adds for Time (AWS: "Calculating PutEvents event entry size").
 */
export const entryBytes = (detailType: string, detail: string): number =>
  Buffer.byteLength(EVENT_SOURCE) + Buffer.byteLength(detailType) + Buffer.byteLength(detail) + 14;

/**
 * The size an entry is held to: EventBridge's count, or its size in the PutEvents request (the
 * Detail JSON escaped inside the request's JSON, with the entry's other members) when larger —
 * the local bus, like a proxy with a body limit, checks the request's bytes. A quote-heavy
 * payload near the limit is then stored aside rather than refused anywhere.
 */
export const measuredBytes = (detailType: string, detail: string): number =>
  Math.max(entryBytes(detailType, detail), Buffer.byteLength(JSON.stringify(detail)) + Buffer.byteLength(detailType) + 200);

/**
 * The PutEvents entries for `events`: a payload within the limit is published as it is
 * (Detail = payload); a larger one is stored with `storeAside` under its project and published
 * as its claim check.
 */
export async function toBusEntries(
  events: readonly TiledeskEvent[],
  storeAside: (payloadJson: string, projectId: string) => Promise<ClaimCheck>,
): Promise<BusEntry[]> {
  return Promise.all(
    events.map(async ({ event, payload }) => {
      // Stack-safe: a payload may nest deeper than V8's own stringify can go.
      const text = jsonText(payload);
      const detail = escapeSqsUnsafe(text);
      // U+FFFE and U+FFFF go aside too: SQS refuses them, and how EventBridge writes an event it
      // forwards to its SQS target (escaped or not) is not documented; a claim check keeps them off
      // that hop, and the fan-out's own messages escape them.
      if (measuredBytes(event, detail) <= MAX_EVENT_ENTRY_BYTES && !SQS_UNSAFE_CHARACTERS.test(text)) return { detailType: event, detail };
      return { detailType: event, detail: stringifyJson(claimCheckDetail(payload, await storeAside(detail, String(payload.id_project)))) };
    }),
  );
}

/** Names longer than this are not a channel or event name: the routing copy leaves them out. */
const MAX_ROUTING_VALUE_LENGTH = 200;

/** How much of the payload's top-level scalars a claim check's detail copies at most. */
const MAX_COPIED_SCALAR_BYTES = 16 * 1024;

/**
 * The detail of a claim-checked event: what routing reads, so the fan-out derives the same
 * topics as from the whole payload — `id_project`, the name at each refinement's `namePath`
 * (`request.channel.name`, `channel.name`, `name`) and the payload's short top-level scalars
 * (e.g. `roleType`, which selects `project_user.update.agent`), up to 16 KB — then the claim check.
 */
export function claimCheckDetail(payload: Record<string, unknown>, claimCheck: ClaimCheck): Record<string, unknown> {
  const detail: Record<string, unknown> = { id_project: payload.id_project };
  let copied = 0;
  for (const [key, value] of Object.entries(payload)) {
    if (key === CLAIM_CHECK_FIELD || key in detail) continue;
    const scalar = typeof value === 'number' || typeof value === 'boolean' || shortString(value) !== undefined;
    // The copy must not bring back what sent the payload aside: U+FFFE and U+FFFF (SQS_UNSAFE_CHARACTERS).
    if (typeof value === 'string' && SQS_UNSAFE_CHARACTERS.test(value)) continue;
    if (!scalar) continue;
    copied += Buffer.byteLength(key) + Buffer.byteLength(String(value)) + 6;
    if (copied > MAX_COPIED_SCALAR_BYTES) break;
    detail[key] = value;
  }
  for (const { namePath } of EVENT_REFINEMENTS) {
    const name = shortString(readPath(payload, namePath));
    if (name !== undefined && !SQS_UNSAFE_CHARACTERS.test(name)) writePath(detail, namePath, name);
  }
  detail[CLAIM_CHECK_FIELD] = claimCheck;
  return detail;
}

/** The claim check a published detail carries, or `undefined` for an event published whole. */
export function readClaimCheck(detail: Record<string, unknown>): ClaimCheck | undefined {
  if (!(CLAIM_CHECK_FIELD in detail)) return undefined;
  const parsed = claimCheckSchema.safeParse(detail[CLAIM_CHECK_FIELD]);
  if (!parsed.success) throw new Error(`malformed ${CLAIM_CHECK_FIELD} in the event detail`);
  return parsed.data;
}

/**
 * Groups entries into PutEvents requests EventBridge accepts: at most 10 entries and 256 KB
 * each. An entry over the limit on its own (which {@link toBusEntries} never makes) throws.
 */
export function batchEntries(entries: readonly BusEntry[]): BusEntry[][] {
  const sized = entries.map((entry) => {
    const bytes = measuredBytes(entry.detailType, entry.detail);
    if (bytes > MAX_EVENT_ENTRY_BYTES) throw new Error(`an event entry of ${bytes} bytes exceeds EventBridge's 256 KB`);
    return { entry, bytes };
  });
  return chunkBySize(sized, ({ bytes }) => bytes, { maxEntries: 10, maxBytes: MAX_EVENT_ENTRY_BYTES }).map((batch) => batch.map(({ entry }) => entry));
}

function shortString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= MAX_ROUTING_VALUE_LENGTH ? value : undefined;
}

/** Sets `value` at `path`, creating the objects on the way. */
function writePath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = target;
  path.forEach((key, index) => {
    if (index === path.length - 1) {
      current[key] = value;
      return;
    }
    const next = current[key];
    current = (current[key] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
  });
}

