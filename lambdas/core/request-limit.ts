/**
 * Per-tenant request limits as a generic cell rate algorithm (GCRA): each limited key (a
 * project's API calls, its ingested events, a source address) keeps one number, its theoretical
 * arrival time (TAT). A request is allowed when the TAT is at most the burst tolerance ahead of
 * now, and then moves the TAT one emission interval on. One number per key means one small
 * DynamoDB item, shared by every Lambda container (their memories are not), updated by a
 * conditional write (docs/design.md, "Per-tenant request limits").
 */

/** A steady rate and the burst allowed on top of it. */
export interface RequestLimit {
  /** Requests per second, sustained. 0 turns the limit off. */
  ratePerSecond: number;
  /** Requests that may arrive at once after a quiet spell (at least 1). */
  burst: number;
}

/** What a request came to. */
export type LimitDecision =
  | { allowed: true; tatMs: number }
  | { allowed: false; retryAfterMs: number };

/** Milliseconds between two requests at the steady rate. */
export const emissionIntervalMs = (limit: RequestLimit): number => 1000 / limit.ratePerSecond;

/** How far ahead of now the TAT may be for a request to pass: the burst's worth, less one. */
export const toleranceMs = (limit: RequestLimit): number => (Math.max(1, limit.burst) - 1) * emissionIntervalMs(limit);

/** True when the limit is off (a rate of 0). */
export const isUnlimited = (limit: RequestLimit): boolean => !(limit.ratePerSecond > 0);

/**
 * The decision for a request at `nowMs` given the key's stored TAT (`undefined` when it has
 * none, or it has passed): allowed with the new TAT to store, or refused with the wait after
 * which one request will pass.
 */
export function decide(storedTatMs: number | undefined, nowMs: number, limit: RequestLimit): LimitDecision {
  const tat = Math.max(storedTatMs ?? nowMs, nowMs);
  const wait = tat - toleranceMs(limit) - nowMs;
  if (wait > 0) return { allowed: false, retryAfterMs: wait };
  return { allowed: true, tatMs: tat + emissionIntervalMs(limit) };
}

/** `Retry-After` in whole seconds (at least 1: a client told 0 would retry at once). */
export const retryAfterSeconds = (retryAfterMs: number): number => Math.max(1, Math.ceil(retryAfterMs / 1000));

/**
 * Reads a limit setting: `<rate>` or `<rate>,<burst>` in whole requests (per second, and at
 * once), e.g. `10,40`; the burst defaults to twice the rate; `0` turns the limit off; empty or
 * absent keeps `defaults`. Throws one line naming the setting.
 */
export function parseRequestLimit(name: string, raw: string | undefined, defaults: RequestLimit): RequestLimit {
  if (raw === undefined || raw.trim() === '') return defaults;
  const match = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(raw);
  const ratePerSecond = Number(match?.[1]);
  const burst = match?.[2] === undefined ? Math.max(1, ratePerSecond * 2) : Number(match[2]);
  if (!match || !Number.isSafeInteger(ratePerSecond) || !Number.isSafeInteger(burst) || burst < 1) {
    throw new Error(`${name}=${raw} is not valid: use <requests per second>[,<burst>] in whole numbers, e.g. 10,40 (0 turns the limit off)`);
  }
  return { ratePerSecond, burst };
}

/** A limit as its setting is written: `<rate>,<burst>`. */
export const formatRequestLimit = (limit: RequestLimit): string => `${limit.ratePerSecond},${limit.burst}`;
