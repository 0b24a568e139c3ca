import { KeyObject, createHmac, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import * as z from 'zod';
import { UnauthenticatedError } from './errors';

/** A teammate's role in a project, as Tiledesk names them. */
export const ROLES = ['owner', 'admin', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as the authorizer established it. */
export interface Principal {
  userId: string;
  projects: Record<string, Role>;
  platform: boolean;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  exp: z.number(),
  iat: z.number().optional(),
  nbf: z.number().optional(),
  projects: z.record(z.string(), z.enum(ROLES)).optional(),
  platform: z.boolean().optional(),
});

type Claims = z.infer<typeof claimsSchema>;

/**
 * `crit` names header extensions the verifier must understand (RFC 7515 §4.1.11); we
 * understand none, so a token carrying it is refused rather than read without them.
 */
const headerSchema = z.object({ alg: z.literal('HS256'), typ: z.string().optional(), crit: z.never().optional() });

/**
 * The issuer's clock (an IdP's, or the platform minting HS256 tokens) may run ahead of ours;
 * `nbf` (not `exp`) gets this much slack.
 */
const NOT_BEFORE_LEEWAY_SECONDS = 60;

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs an HS256 JWT. `ttlSeconds` sets `exp`; used by the token CLI and tests. */
export function signToken(
  claims: { sub: string; projects?: Record<string, Role>; platform?: boolean; iss?: string; aud?: string },
  secret: string,
  ttlSeconds = 3600,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ ...claims, iat: nowSeconds, exp: nowSeconds + ttlSeconds })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** Extracts the token from `Bearer <jwt>` or Tiledesk's `JWT <jwt>`. */
export function readAuthorizationHeader(header: string | undefined): string {
  const match = /^(?:Bearer|JWT)\s+(\S+)$/i.exec(header?.trim() ?? '');
  if (!match?.[1]) throw new UnauthenticatedError('Missing or malformed Authorization header');
  return match[1];
}

/** The refusal of a well-formed token that no accepted secret or key signed. */
export const INVALID_SIGNATURE = 'Invalid token signature';

/** What a token must also carry, when the deployment sets it (`JWT_ISSUER`, `JWT_AUDIENCE`). */
export interface TokenExpectations {
  /** Exact `iss` the token must carry. @default no check */
  issuer?: string;
  /** A value the token's `aud` (string or array) must contain. @default no check */
  audience?: string;
}

/**
 * Verifies an HS256 JWT: only HS256 is accepted (never `none` or another algorithm, never a
 * `crit` header), the signature is compared in constant time with each accepted secret (during
 * a rotation, the current and the previous one), `exp` is required and must be in the future,
 * `nbf`, when present, must not be ahead of now by more than a minute of clock skew, and `iss`
 * and `aud` must match when `expected` names them.
 */
export function verifyToken(
  token: string,
  secrets: string | readonly string[],
  nowSeconds = Math.floor(Date.now() / 1000),
  expected: TokenExpectations = {},
): Principal {
  const [headerPart, payloadPart, signaturePart] = splitToken(token);
  const header = parseSegment(headerPart);
  if ((header as { alg?: unknown } | null)?.alg !== 'HS256') throw new UnauthenticatedError('Unsupported token algorithm');
  if (!headerSchema.safeParse(header).success) throw new UnauthenticatedError('Unsupported token header');
  const actual = Buffer.from(signaturePart, 'base64url');
  const signedBy = (secret: string): boolean => {
    const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
  if (!(typeof secrets === 'string' ? [secrets] : secrets).some(signedBy)) {
    throw new UnauthenticatedError(INVALID_SIGNATURE);
  }
  const claims = readClaims(claimsSchema, payloadPart, nowSeconds);
  assertIssuerAndAudience(claims, expected);
  return principalOf(claims);
}

/** 401 unless `iss` and `aud` are those expected (each checked only when expected). */
function assertIssuerAndAudience({ iss, aud }: { iss?: string; aud?: string | string[] }, expected: TokenExpectations): void {
  if (expected.issuer !== undefined && iss !== expected.issuer) throw new UnauthenticatedError('Token issuer not accepted');
  if (expected.audience !== undefined && !(Array.isArray(aud) ? aud : [aud]).includes(expected.audience)) {
    throw new UnauthenticatedError('Token audience not accepted');
  }
}

/**
 * A key of a JSON Web Key Set, as far as RS256 verification reads it; other members pass
 * through. The one definition of a key: the JWKS fetcher parses key sets with it too.
 */
export const jwkSchema = z.looseObject({
  kty: z.string().optional(),
  kid: z.string().optional(),
  use: z.string().optional(),
  alg: z.string().optional(),
  key_ops: z.array(z.string()).optional(),
  n: z.string().optional(),
  e: z.string().optional(),
});
export type Jwk = z.infer<typeof jwkSchema>;

/** What an RS256 token must also match, besides a key of the set. */
export type Rs256Expectations = TokenExpectations;

/** Below this modulus an RSA key is refused: 2048 bits is the floor of RFC 7518 §3.3. */
const MIN_RSA_MODULUS_BITS = 2048;


const rs256HeaderSchema = z.object({
  alg: z.literal('RS256'),
  kid: z.string().min(1),
  typ: z.string().optional(),
  crit: z.never().optional(),
});


/**
 * The token's header, unverified and only to choose how to verify it: `{}` when it cannot
 * be read, so the verifier itself reports what is wrong.
 */
export function readTokenHeader(token: string): { alg?: string; kid?: string } {
  const [headerPart] = token.split('.');
  try {
    const header: unknown = JSON.parse(Buffer.from(headerPart ?? '', 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null) return {};
    const { alg, kid } = header as Record<string, unknown>;
    return { ...(typeof alg === 'string' ? { alg } : {}), ...(typeof kid === 'string' ? { kid } : {}) };
  } catch {
    return {};
  }
}

/**
 * Verifies an RS256 JWT from an identity provider against its key set (JWKS): only `alg`
 * RS256 (never `none`, never HS256 keyed with a public key), the key chosen by the header's
 * `kid` among the set's RSA signing keys (keys carried or pointed to by the token are
 * ignored), then the same claims as {@link verifyToken} plus `nbf`, `iss` and `aud`.
 */
export function verifyRs256Token(
  token: string,
  keys: readonly Jwk[],
  expected: Rs256Expectations = {},
  nowSeconds = Math.floor(Date.now() / 1000),
): Principal {
  const [headerPart, payloadPart, signaturePart] = splitToken(token);
  const header = parseSegment(headerPart);
  const alg = (header as { alg?: unknown } | null)?.alg;
  if (alg !== 'RS256') throw new UnauthenticatedError('Unsupported token algorithm');
  const parsedHeader = rs256HeaderSchema.safeParse(header);
  if (!parsedHeader.success) {
    const kid = (header as { kid?: unknown }).kid;
    throw new UnauthenticatedError(
      typeof kid === 'string' && kid !== '' ? 'Unsupported token header' : 'Token header has no key id (kid)',
    );
  }
  const publicKeys = verificationKeys(keys, parsedHeader.data.kid);
  const data = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!publicKeys.some((key) => verify('sha256', data, key, signature))) {
    throw new UnauthenticatedError('Invalid token signature');
  }
  const claims = readClaims(claimsSchema, payloadPart, nowSeconds);
  assertIssuerAndAudience(claims, expected);
  return principalOf(claims);
}

/**
 * The public keys the set offers for `kid` that may verify RS256 signatures; throws, naming
 * why, when there is none.
 */
function verificationKeys(keys: readonly Jwk[], kid: string): KeyObject[] {
  const named = keys.filter((key) => key.kid === kid);
  if (named.length === 0) throw new UnauthenticatedError('Unknown token key id');
  const refusals: string[] = [];
  const usable: KeyObject[] = [];
  for (const jwk of named) {
    const refusal = refuseKey(jwk);
    if (refusal) refusals.push(refusal);
    else usable.push(...publicKeyOf(jwk, refusals));
  }
  if (usable.length === 0) throw new UnauthenticatedError(refusals[0]);
  return usable;
}

function refuseKey(jwk: Jwk): string | undefined {
  if (jwk.kty !== 'RSA') return 'Token key is not an RSA key';
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'Token key is not a signing key';
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return 'Token key is not a verification key';
  if (jwk.alg !== undefined && jwk.alg !== 'RS256') return 'Token key is for another algorithm';
  return undefined;
}

/** The key as a KeyObject (one, or none with the reason added to `refusals`). */
function publicKeyOf(jwk: Jwk, refusals: string[]): KeyObject[] {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
  } catch {
    refusals.push('Token key is malformed');
    return [];
  }
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS) {
    refusals.push('Token key is too short');
    return [];
  }
  return [key];
}

/**
 * The token's header, payload and signature segments: exactly three, each in canonical
 * base64url, or it is malformed. Node's decoder skips `=`, `+`, `/` and stray characters, so
 * without the canonical check many spellings of one signature would verify.
 */
function splitToken(token: string): [string, string, string] {
  const parts = token.split('.');
  if (parts.length !== 3) throw new UnauthenticatedError('Malformed token');
  if (!parts.every(isCanonicalBase64Url)) throw new UnauthenticatedError('Malformed token: segments must be canonical base64url');
  return parts as [string, string, string];
}

/**
 * Only the base64url alphabet, no padding, and the very text encoding its bytes gives back
 * (which also refuses a length of 4n+1 and non-zero unused bits in the last character).
 */
function isCanonicalBase64Url(segment: string): boolean {
  return /^[A-Za-z0-9_-]*$/.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

/**
 * The payload's claims by `schema`, once the signature is verified; `exp` must be in the
 * future, and `nbf` not in the future beyond the clock-skew leeway.
 */
function readClaims<C extends Claims>(schema: z.ZodType<C>, payloadPart: string, nowSeconds: number): C {
  const claims = schema.safeParse(parseSegment(payloadPart));
  if (!claims.success) throw new UnauthenticatedError('Invalid token claims');
  if (claims.data.exp <= nowSeconds) throw new UnauthenticatedError('Token expired');
  const { nbf } = claims.data;
  if (nbf !== undefined && nbf > nowSeconds + NOT_BEFORE_LEEWAY_SECONDS) throw new UnauthenticatedError('Token not yet valid');
  return claims.data;
}

function principalOf({ sub, projects, platform }: Claims): Principal {
  return { userId: sub, projects: projects ?? {}, platform: platform === true };
}

function parseSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new UnauthenticatedError('Malformed token');
  }
}

/** True when the principal may manage the project's subscriptions. */
export function canManageProject(principal: Principal, projectId: string): boolean {
  if (principal.platform) return true;
  const role = principal.projects[projectId];
  return role === 'owner' || role === 'admin';
}
