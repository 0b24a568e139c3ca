import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import * as z from 'zod';
import { UnauthenticatedError, isAwsBusy } from '../core/errors';
import { INVALID_SIGNATURE, Principal, readAuthorizationHeader, readTokenHeader, verifyRs256Token, verifyToken } from '../core/token';
import { readConfig } from '../adapters/config';
import { createJwksSource } from '../adapters/jwks';
import { JwtSecretSource, createJwtSecretSource, secretReaderFor } from '../adapters/jwt-secret';
import { TILEDESK_ISSUER, peekIssuer, readPublicKey, signInWithTiledesk } from '../core/tiledesk-token';
import { hasSecretSetting, loadSecretSetting } from '../adapters/secret-setting';
import { TiledeskUnavailableError, createProjectRoleLookup } from '../adapters/tiledesk-project-users';
import { instrument, logger } from '../adapters/observability';

/** An unset or empty variable is no setting. */
const optionalSetting = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

const config = readConfig(
  z.object({
    /** The identity provider's key set; RS256 tokens are accepted only when it is set. */
    JWKS_URL: optionalSetting,
    /** `iss` and `aud` that every token (HS256 and RS256) must carry, when set. */
    JWT_ISSUER: optionalSetting,
    JWT_AUDIENCE: optionalSetting,
    /** Tiledesk sign-in: Tiledesk's API, asked for the caller's role in a project. */
    TILEDESK_API_URL: optionalSetting,
    /** Tiledesk sign-in with RS256: the public key of Tiledesk's `GLOBAL_SECRET_OR_PRIVATE_KEY` (PEM). */
    TILEDESK_JWT_PUBLIC_KEY: optionalSetting,
  }),
);

/**
 * Tiledesk sign-in, when Tiledesk's API and one of its token keys are configured (the HS256
 * secret `TILEDESK_JWT_SECRET`, or `TILEDESK_JWT_SECRET_ARN` deployed; or the RS256 public key).
 */
const tiledesk =
  config.TILEDESK_API_URL && (config.TILEDESK_JWT_PUBLIC_KEY || hasSecretSetting('TILEDESK_JWT_SECRET'))
    ? {
        publicKey: config.TILEDESK_JWT_PUBLIC_KEY ? readPublicKey(config.TILEDESK_JWT_PUBLIC_KEY) : undefined,
        roles: createProjectRoleLookup(config.TILEDESK_API_URL),
      }
    : undefined;

// Module scope: the key set and the signing secret are cached per container, with an expiry
// (see createJwksSource, createJwtSecretSource).
const jwks = config.JWKS_URL ? createJwksSource(config.JWKS_URL) : undefined;
const jwtSecrets = createJwtSecretSource(secretReaderFor());
const expectations = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };

/** What the authorizer hands to the API functions (values must be primitives). */
export interface AuthorizerContext {
  authenticated: boolean;
  userId: string;
  /** JSON of the `projects` claim: project id → role. */
  projects: string;
  platform: boolean;
  /** Why the token was refused, when `authenticated` is false. */
  reason: string;
  /** Tiledesk could not be asked for the caller's role: the request gets 503, never a grant. */
  unavailable?: boolean;
}

/**
 * Verifies the caller's JWT. A refused token is passed on as `authenticated: false` rather
 * than denied here, because an HTTP API authorizer can only deny with 403 and the contract
 * (Tiledesk's) answers a bad token with 401; every API function refuses such a request.
 * Only this function can read the signing secret. With `JWKS_URL` set, RS256 tokens of the
 * identity provider are accepted too; the header's `alg` chooses the verification.
 */
export async function authorize(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  try {
    const token = readAuthorizationHeader(event.headers?.authorization);
    const principal =
      tiledesk && peekIssuer(token) === TILEDESK_ISSUER
        ? await signInWithTiledesk(
            token,
            event.pathParameters?.projectId,
            { secret: await loadSecretSetting('TILEDESK_JWT_SECRET'), publicKey: tiledesk.publicKey },
            (userToken, projectId) => tiledesk.roles.roleOf(userToken, projectId),
          )
        : await verifyCaller(token);
    return {
      isAuthorized: true,
      context: {
        authenticated: true,
        userId: principal.userId,
        projects: JSON.stringify(principal.projects),
        platform: principal.platform,
        reason: '',
      },
    };
  } catch (error) {
    // Tiledesk or an AWS service (the signing secret's Secrets Manager) could not answer: the
    // request gets 503 with Retry-After from the API function, never a grant, nor a 500.
    if (error instanceof TiledeskUnavailableError || isAwsBusy(error)) {
      const reason = error instanceof TiledeskUnavailableError ? error.message : 'the service is busy; retry shortly';
      logger.warn('sign-in unavailable', { reason, error: String(error) });
      return {
        isAuthorized: true,
        context: { authenticated: false, userId: '', projects: '{}', platform: false, reason, unavailable: true },
      };
    }
    if (!(error instanceof UnauthenticatedError)) throw error;
    logger.info('token refused', { reason: error.message });
    return {
      isAuthorized: true,
      context: { authenticated: false, userId: '', projects: '{}', platform: false, reason: error.message },
    };
  }
}

/**
 * RS256 only when a key set is configured, HS256 with the generated secret otherwise. A failed
 * key set or secret fetch is not the caller's fault: it is thrown (a 500), not a 401.
 */
async function verifyCaller(token: string): Promise<Principal> {
  const { alg, kid } = readTokenHeader(token);
  if (jwks && alg === 'RS256') {
    const keys = kid ? await jwks.keysFor(kid) : [];
    return verifyRs256Token(token, keys, expectations);
  }
  return verifyHs256(token);
}

/**
 * HS256 with the current secret, or the previous one during a rotation's overlap. A bad
 * signature may come from a secret rotated in after this container read it: read again
 * (rate-limited) before refusing. `secrets` and the clock are parameters for tests.
 */
export async function verifyHs256(
  token: string,
  secrets: JwtSecretSource = jwtSecrets,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<Principal> {
  try {
    return verifyToken(token, await secrets.secrets(), nowSeconds, expectations);
  } catch (error) {
    if (!(error instanceof UnauthenticatedError) || error.message !== INVALID_SIGNATURE) throw error;
    const refreshed = await secrets.refreshed();
    if (!refreshed) throw error;
    return verifyToken(token, refreshed, nowSeconds, expectations);
  }
}

export const handler = instrument(authorize, { metrics: false });
