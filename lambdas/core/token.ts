import { createHmac, timingSafeEqual } from 'node:crypto';
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
  exp: z.number(),
  iat: z.number().optional(),
  projects: z.record(z.string(), z.enum(ROLES)).optional(),
  platform: z.boolean().optional(),
});

const headerSchema = z.object({ alg: z.literal('HS256'), typ: z.string().optional() });

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs an HS256 JWT. `ttlSeconds` sets `exp`; used by the token CLI and tests. */
export function signToken(
  claims: { sub: string; projects?: Record<string, Role>; platform?: boolean },
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

/**
 * Verifies an HS256 JWT: only HS256 is accepted (never `none` or another algorithm), the
 * signature is compared in constant time, and `exp` is required and must be in the future.
 */
export function verifyToken(token: string, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): Principal {
  const parts = token.split('.');
  if (parts.length !== 3) throw new UnauthenticatedError('Malformed token');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  if (!headerSchema.safeParse(parseSegment(headerPart)).success) throw new UnauthenticatedError('Unsupported token algorithm');
  const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new UnauthenticatedError('Invalid token signature');
  }
  const claims = claimsSchema.safeParse(parseSegment(payloadPart));
  if (!claims.success) throw new UnauthenticatedError('Invalid token claims');
  if (claims.data.exp <= nowSeconds) throw new UnauthenticatedError('Token expired');
  return { userId: claims.data.sub, projects: claims.data.projects ?? {}, platform: claims.data.platform === true };
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
