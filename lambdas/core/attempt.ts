import { randomBytes } from 'node:crypto';
import type { Attempt } from './api-types';

// The attempt's shape is part of the API's answers, shared with the console.
export { ATTEMPT_OUTCOMES, type Attempt, type AttemptOutcome } from './api-types';

/** A log id that sorts by time (newest last) and is safe in a URL path. */
export const newLogId = (at: Date): string => `${at.getTime().toString().padStart(14, '0')}-${randomHex(5)}`;

/** Random bytes drawn from the CSPRNG in blocks: one call per 800 log ids, not one per id (~1 % of a delivery's CPU). */
let pool = Buffer.alloc(0);
let used = 0;
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

/**
 * An attempt as the delivery logs it: with its payload, or, where the fan-out stored the event's
 * payload once, `payloadWithEvent` and no copy (lambdas/core/stored-payload.ts). Reads give the
 * payload back either way.
 */
export type LoggedAttempt = Attempt & { payloadWithEvent?: true };
