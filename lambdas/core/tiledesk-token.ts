import { KeyObject, createHmac, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import * as z from 'zod';
import { UnauthenticatedError } from './errors';
import { SubscriptionView } from './subscription';
import { Principal, Role } from './token';

/**
 * Tiledesk's own JSON Web Tokens, as tiledesk-server signs them with `jsonwebtoken`: user
 * tokens (`routes/auth.js`) and the tokens of its webhook requests (`subscriptionNotifier.js`).
 * Both carry `iss` `https://tiledesk.com`, no `exp`, and are HS256 under Tiledesk's
 * `GLOBAL_SECRET`, or RS256 when Tiledesk runs with `GLOBAL_SECRET_ALGORITHM=RS256`.
 */
export const TILEDESK_ISSUER = 'https://tiledesk.com';
/** `sub` of a webhook's token in Tiledesk's `subscriptionNotifier.js`. */
export const SUBSCRIPTION_TOKEN_SUBJECT = 'subscription';
/** `aud` of Tiledesk user tokens and of global subscriptions' webhook tokens. */
export const TILEDESK_AUDIENCE = 'https://tiledesk.com';

/** The keys a Tiledesk token may be verified with; each algorithm only with its own kind of key. */
export interface TiledeskKeys {
  /** HS256 shared secret (Tiledesk's `GLOBAL_SECRET`). */
  secret?: string;
  /** RS256 public key, PEM (the pair of Tiledesk's `GLOBAL_SECRET_OR_PRIVATE_KEY`). */
  publicKey?: KeyObject;
}

/** What a Tiledesk token must carry besides a valid signature. */
export interface TiledeskExpectations {
  /** Exact `sub`. */
  subject: string;
  /** A value `aud` (string or array) must contain. @default TILEDESK_AUDIENCE */
  audience?: string;
}

/** A clock difference with Tiledesk's servers we tolerate on `nbf` and `iat`. */
const CLOCK_LEEWAY_SECONDS = 60;

const headerSchema = z.object({ alg: z.string(), typ: z.string().optional(), crit: z.never().optional() });

const claimsSchema = z.looseObject({
  iss: z.string().optional(),
  sub: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  exp: z.number().optional(),
  nbf: z.number().optional(),
  iat: z.number().optional(),
});
export type TiledeskClaims = z.infer<typeof claimsSchema>;

/**
 * A PEM public key from a setting; `\n` escapes become newlines, as tiledesk-server reads its
 * own keys from single-line environment variables. Throws for a key that is not an RSA public
 * key of at least 2048 bits, so a misconfiguration fails at cold start.
 */
export function readPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem.replace(/\\n/g, '\n'));
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new Error('the Tiledesk public key must be an RSA public key of at least 2048 bits');
  }
  return key;
}

/** Why {@link readPublicKey} refuses `pem`, in a few words; undefined when it takes it. */
export function publicKeyProblem(pem: string): string | undefined {
  try {
    readPublicKey(pem);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    // OpenSSL's own words (`error:1E08010C:DECODER routines::unsupported`) say nothing to a reader.
    return message.startsWith('the Tiledesk public key') ? message.replace('the Tiledesk public key', 'it') : 'not a PEM public key';
  }
}

/** The token's `iss`, unverified: only to choose which verifier reads it. */
export function peekIssuer(token: string): string | undefined {
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const iss = (claims as { iss?: unknown } | null)?.iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a Tiledesk token: HS256 only with the secret and RS256 only with the public key
 * (never `none`, never a public key used as an HMAC secret), canonical base64url segments,
 * `iss` Tiledesk's, `sub` and `aud` as expected; `exp` is optional because Tiledesk issues
 * none, but honoured when present. Returns the claims.
 */
export function verifyTiledeskToken(
  token: string,
  keys: TiledeskKeys,
  expected: TiledeskExpectations,
  nowSeconds = Math.floor(Date.now() / 1000),
): TiledeskClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every(isCanonicalBase64Url)) throw new UnauthenticatedError('Malformed token');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = headerSchema.safeParse(parseSegment(headerPart));
  if (!header.success) throw new UnauthenticatedError('Unsupported token header');
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!signatureMatches(header.data.alg, keys, signed, signature)) throw new UnauthenticatedError('Invalid token signature');

  const parsed = claimsSchema.safeParse(parseSegment(payloadPart));
  if (!parsed.success) throw new UnauthenticatedError('Invalid token claims');
  const claims = parsed.data;
  if (claims.iss !== TILEDESK_ISSUER) throw new UnauthenticatedError('Token issuer not accepted');
  if (claims.sub !== expected.subject) throw new UnauthenticatedError('Token subject not accepted');
  const audience = expected.audience ?? TILEDESK_AUDIENCE;
  if (!(Array.isArray(claims.aud) ? claims.aud : [claims.aud]).includes(audience)) {
    throw new UnauthenticatedError('Token audience not accepted');
  }
  if (claims.exp !== undefined && claims.exp <= nowSeconds) throw new UnauthenticatedError('Token expired');
  if (claims.nbf !== undefined && claims.nbf > nowSeconds + CLOCK_LEEWAY_SECONDS) throw new UnauthenticatedError('Token not yet valid');
  return claims;
}

function signatureMatches(alg: string, keys: TiledeskKeys, signed: Buffer, signature: Buffer): boolean {
  if (alg === 'HS256' && keys.secret !== undefined) {
    const expected = createHmac('sha256', keys.secret).update(signed).digest();
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
  if (alg === 'RS256' && keys.publicKey !== undefined) return verify('sha256', signed, keys.publicKey, signature);
  throw new UnauthenticatedError('Unsupported token algorithm');
}

/** Only one spelling of each segment is accepted, so a token cannot be re-encoded and replayed as "new". */
function isCanonicalBase64Url(segment: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function parseSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new UnauthenticatedError('Malformed token');
  }
}

/** A Tiledesk user token's user: the `_id` of the user document Tiledesk signs (its `sub` is `user`). */
export function tiledeskUserId(claims: TiledeskClaims): string {
  const id = claims._id;
  if (typeof id !== 'string' || id === '') throw new UnauthenticatedError('Tiledesk token carries no user id (_id)');
  return id;
}

/**
 * A Tiledesk project role as ours: owner and admin manage subscriptions; every other role of
 * Tiledesk (supervisor, agent, teammate, user, guest, custom roles) is a member who may not,
 * which our `agent` says. No role, or a disabled teammate, is no membership.
 */
export function roleFromTiledesk(role: string | undefined): Role | undefined {
  if (role === undefined || role === '') return undefined;
  if (role === 'owner' || role === 'admin') return role;
  return 'agent';
}

/** Finds the caller's Tiledesk role in a project (Tiledesk's `project_users/me`). */
export type TiledeskRoleLookup = (token: string, projectId: string) => Promise<string | undefined>;

/**
 * Signs a Tiledesk user in: a user token of Tiledesk (`sub` `user`, `aud` Tiledesk's) verified
 * here, then the role in the path's project asked of Tiledesk with the same token, since
 * Tiledesk's tokens carry no role. A route without a project gets a principal with no project.
 */
export async function signInWithTiledesk(
  token: string,
  projectId: string | undefined,
  keys: TiledeskKeys,
  lookupRole: TiledeskRoleLookup,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<Principal> {
  const userId = tiledeskUserId(verifyTiledeskToken(token, keys, { subject: 'user' }, nowSeconds));
  const role = projectId ? roleFromTiledesk(await lookupRole(token, projectId)) : undefined;
  return { userId, projects: projectId && role ? { [projectId]: role } : {}, platform: false };
}

/** `aud` of a webhook's token: the subscription it was sent for. */
export const subscriptionTokenAudience = (subscriptionId: string): string =>
  `https://tiledesk.com/subscriptions/${subscriptionId}`;

const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/**
 * The `token` of a webhook body, byte for byte what Tiledesk's `subscriptionNotifier.js` gets
 * from `jwt.sign(hook, secret, {issuer, subject, audience})` with jsonwebtoken: HS256, header
 * `{"alg":"HS256","typ":"JWT"}`, claims = the hook's fields then `iat`, `aud`, `iss`, `sub`
 * (jsonwebtoken's order), no `exp`. The key is the secret string's UTF-8 bytes, as
 * jsonwebtoken uses a string key — for our `whsec_…` secrets the whole string, prefix
 * included, not the bytes it encodes. Receivers verify it with `jwt.verify` and the secret
 * they were given. Built here with node:crypto so the functions carry no JWT library.
 */
export function signSubscriptionToken(hook: SubscriptionView, secret: string, at: Date): string {
  const claims = {
    ...hook,
    iat: Math.floor(at.getTime() / 1000),
    aud: subscriptionTokenAudience(hook._id),
    iss: TILEDESK_ISSUER,
    sub: SUBSCRIPTION_TOKEN_SUBJECT,
  };
  // JSON.stringify, as jsonwebtoken: the hook is a flat object, so it cannot nest too deep.
  const signingInput = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
  const signature = createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
