import { createHash, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { UnauthenticatedError, ValidationError } from './errors';
import { OPERATOR_SELECT_EVENT, isKnownEvent } from './event-catalog';
import { CLAIM_CHECK_FIELD, reservedFieldsIn } from './claim-check';
import { idSchema } from './subscription';
import { TILEDESK_AUDIENCE, TiledeskKeys, verifyTiledeskToken } from './tiledesk-token';

/**
 * What an unmodified tiledesk-server POSTs to a global subscription's target
 * (`services/subscriptionNotifier.js`): `{timestamp, payload, hook, token}`, `token` being
 * `jwt.sign(hook, GLOBAL_SECRET, {issuer, subject: 'subscription', audience: 'https://tiledesk.com'})`
 * and the header `x-hook-secret` the subscription's own `secret`.
 */
const ingestBodySchema = z.looseObject({
  timestamp: z.number().optional(),
  // A project id as everywhere else (Tiledesk's are 24 hex characters): a longer one would
  // exceed DynamoDB's key size, and the project's request limit would not be checked.
  payload: z.looseObject({ id_project: z.string({ message: 'required: the project the event belongs to' }).pipe(idSchema) }),
  hook: z.looseObject({ _id: z.string().optional(), event: z.string().min(1) }),
  token: z.string().min(1),
});

/** A verified Tiledesk webhook request: the event and its payload as Tiledesk sent them. */
export interface IngestedEvent {
  event: string;
  payload: Record<string, unknown> & { id_project: string };
  /** Identifies this request's bytes: Tiledesk's retries of it carry the same. */
  requestHash: string;
}

/** How ingest authenticates Tiledesk. */
export interface IngestSettings {
  /** `GLOBAL_SECRET` (HS256) and/or the public key of `GLOBAL_SECRET_OR_PRIVATE_KEY` (RS256). */
  keys: TiledeskKeys;
  /** The `secret` stored in the global subscriptions, sent as `x-hook-secret`; required. */
  hookSecret: string;
  /**
   * How old a token's `iat` may be. Tiledesk signs each request's token as it sends it, so a
   * genuine request is seconds old; an older one is a captured request played again.
   */
  tokenMaxAgeSeconds: number;
}

/** A clock difference with Tiledesk's servers tolerated on `iat`. */
const CLOCK_LEEWAY_SECONDS = 60;

/**
 * Authenticates and reads one request: `x-hook-secret` and the body's `token` (verified as
 * Tiledesk signs it, issued for the body's `hook`, and fresh: its `iat` within the window) → 401;
 * a body that is not Tiledesk's, an unknown `hook.event`, no `payload.id_project`, the reserved
 * claim-check field → 400 naming the field. The token signs the hook, not the payload: within
 * the window a captured request can carry another payload (docs/security.md).
 */
export function readIngestRequest(
  rawBody: string,
  hookSecretHeader: string | undefined,
  settings: IngestSettings,
  nowSeconds = Math.floor(Date.now() / 1000),
): IngestedEvent {
  if (!hookSecretHeader) {
    throw new UnauthenticatedError("x-hook-secret header missing: ingest takes the requests of Tiledesk's global subscriptions, which carry their secret");
  }
  if (!sameSecret(hookSecretHeader, settings.hookSecret)) {
    throw new UnauthenticatedError(
      "x-hook-secret does not match the global subscription secret (ingest takes Tiledesk's global subscriptions: a project's own subscription sends its own secret)",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(rawBody);
  } catch {
    throw new ValidationError('body must be valid JSON', [{ field: 'body', message: 'invalid JSON' }]);
  }
  const token = (raw as { token?: unknown } | null)?.token;
  if (typeof token !== 'string' || token === '') throw new UnauthenticatedError('token missing from the body');
  const claims = verifyIngestToken(token, settings.keys, nowSeconds);
  assertFresh(claims.iat, settings.tokenMaxAgeSeconds, nowSeconds);

  const parsed = ingestBodySchema.safeParse(raw);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || 'body', message: issue.message }));
    throw new ValidationError(`not a Tiledesk webhook request: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
  const { hook } = parsed.data;
  // The payload is published as Tiledesk sent it: zod's output would list `id_project` first.
  const payload = (raw as { payload: IngestedEvent['payload'] }).payload;
  // The token signs the hook, not the payload: at least the event must be the one it was issued for.
  if (claims.event !== hook.event || claims._id !== hook._id) {
    throw new UnauthenticatedError('token was not issued for this hook');
  }
  if (!isKnownEvent(hook.event)) {
    throw new ValidationError(`unknown event ${hook.event}`, [{ field: 'hook.event', message: 'not a Tiledesk event this service knows' }]);
  }
  const [reserved] = reservedFieldsIn([payload], () => `payload.${CLAIM_CHECK_FIELD}`);
  if (reserved) throw new ValidationError(`${reserved} is reserved`, [{ field: reserved, message: 'reserved for the service\'s own claim checks' }]);
  return { event: hook.event, payload, requestHash: createHash('sha256').update(rawBody).digest('base64url') };
}

/** A routing call's body at most, as the operator.select route takes one (its `agents` list grows with the project). */
export const ROUTING_BODY_MAX_BYTES = 256 * 1024;

/**
 * Whether a request over its source's request limit is Tiledesk's routing call, verified as
 * every ingest request is ({@link readIngestRequest}: the hook secret, a fresh token issued
 * for its hook): then it gets the default routing, its own payload back, rather than a 429
 * (DESIGN §6: never an error to the platform; Tiledesk's whole egress is one source). The
 * checks cost CPU only, no table read; the header is compared first and the size checked
 * before any parsing, so a flood without the secret costs what a refusal did. It calls no hook.
 */
export function routingOverSourceLimit(
  rawBody: string,
  hookSecretHeader: string | undefined,
  settings: IngestSettings,
  nowSeconds = Math.floor(Date.now() / 1000),
): Record<string, unknown> | undefined {
  if (!hookSecretHeader || !sameSecret(hookSecretHeader, settings.hookSecret)) return undefined;
  if (Buffer.byteLength(rawBody) > ROUTING_BODY_MAX_BYTES) return undefined;
  try {
    const ingested = readIngestRequest(rawBody, hookSecretHeader, settings, nowSeconds);
    return ingested.event === OPERATOR_SELECT_EVENT ? ingested.payload : undefined;
  } catch {
    return undefined;
  }
}

/** 401 unless the token was issued within the last `maxAgeSeconds` (and not in the future). */
function assertFresh(iat: number | undefined, maxAgeSeconds: number, nowSeconds: number): void {
  if (iat === undefined) throw new UnauthenticatedError('token has no iat: Tiledesk signs every request with one');
  if (iat > nowSeconds + CLOCK_LEEWAY_SECONDS) throw new UnauthenticatedError('token issued in the future');
  if (nowSeconds - iat > maxAgeSeconds) {
    throw new UnauthenticatedError(`token issued ${nowSeconds - iat} s ago: ingest takes tokens up to ${maxAgeSeconds} s old`);
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token verified as a global subscription's, a project subscription's audience named as the likely mistake. */
function verifyIngestToken(token: string, keys: IngestSettings['keys'], nowSeconds: number): ReturnType<typeof verifyTiledeskToken> {
  try {
    return verifyTiledeskToken(token, keys, { subject: 'subscription', audience: TILEDESK_AUDIENCE }, nowSeconds);
  } catch (error) {
    if (!(error instanceof UnauthenticatedError) || !/audience/i.test(error.message)) throw error;
    throw new UnauthenticatedError(
      `${error.message}: ingest takes the tokens of Tiledesk's global subscriptions (audience ${TILEDESK_AUDIENCE}); a project subscription's token names its own`,
    );
  }
}
