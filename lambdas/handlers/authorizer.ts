import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { UnauthenticatedError } from '../core/errors';
import { readAuthorizationHeader, verifyToken } from '../core/token';
import { loadJwtSecret } from '../adapters/jwt-secret';
import { logger } from '../adapters/observability';

/** What the authorizer hands to the API functions (values must be primitives). */
export interface AuthorizerContext {
  authenticated: boolean;
  userId: string;
  /** JSON of the `projects` claim: project id → role. */
  projects: string;
  platform: boolean;
  /** Why the token was refused, when `authenticated` is false. */
  reason: string;
}

/**
 * Verifies the caller's JWT. A refused token is passed on as `authenticated: false` rather
 * than denied here, because an HTTP API authorizer can only deny with 403 and the contract
 * (Tiledesk's) answers a bad token with 401; every API function refuses such a request.
 * Only this function can read the signing secret.
 */
export async function authorize(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  const secret = await loadJwtSecret();
  try {
    const principal = verifyToken(readAuthorizationHeader(event.headers?.authorization), secret);
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
    if (!(error instanceof UnauthenticatedError)) throw error;
    logger.info('token refused', { reason: error.message });
    return {
      isAuthorized: true,
      context: { authenticated: false, userId: '', projects: '{}', platform: false, reason: error.message },
    };
  }
}

export const handler = middy(authorize).use(injectLambdaContext(logger));
