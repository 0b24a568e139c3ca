import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod';
import {
  ConflictError,
  FieldError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnauthenticatedError,
  ValidationError,
  isAwsBusy,
} from '../core/errors';
import { MAX_JSON_DEPTH, jsonDepth, stringifyJson } from '../core/json-text';
import { Principal, ROLES, canManageProject } from '../core/token';
import type { AuthorizerContext } from './authorizer';
import { logger, metrics } from '../adapters/observability';

export type ApiEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/**
 * A JSON response. Every API answer is `no-store`: creates and rotations carry a signing secret,
 * and the others carry a project's data (attempt logs with payloads); none may be kept by a
 * browser or a shared cache.
 */
export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: stringifyJson(body),
  };
}

/** Seconds a client is asked to wait on a 503 (when an AWS service was busy, the SDK has retried already). */
export const BUSY_RETRY_AFTER_SECONDS = 2;

/** A 503: the request may be sent again as it was, after `Retry-After`. */
export function unavailableResponse(msg: string): ApiResult {
  return jsonResponse(503, { success: false, msg }, { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) });
}

/**
 * The one place errors become HTTP statuses. An AWS service throttling, failing or unreachable
 * after the SDK's retries is a 503 with `Retry-After` (the request may be sent again as it
 * was), logged with the call's request id and counted (`AwsBusy`); anything else unexpected is
 * logged and is a 500.
 */
export function errorResponse(error: unknown): ApiResult {
  if (isAwsBusy(error)) {
    const { name, message, stack, $metadata } = error as Error & { $metadata?: { requestId?: string; attempts?: number; httpStatusCode?: number } };
    logger.warn('an AWS service was busy or unreachable; answered 503', { name, message, stack, ...$metadata });
    metrics.addMetric('AwsBusy', 'Count', 1);
    return unavailableResponse('the service is busy; retry shortly');
  }
  const status = statusOf(error);
  if (status === 500) {
    logger.error('unexpected error', error as Error);
    return jsonResponse(500, { success: false, msg: 'Internal error' });
  }
  const body: { success: false; msg: string; errors?: FieldError[] } = {
    success: false,
    msg: (error as Error).message,
  };
  if (error instanceof ValidationError && error.errors.length > 0) body.errors = error.errors;
  if (error instanceof TooManyRequestsError) return jsonResponse(status, body, { 'retry-after': String(error.retryAfterSeconds) });
  if (status === 503) return unavailableResponse(body.msg);
  return jsonResponse(status, body);
}

function statusOf(error: unknown): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof UnauthenticatedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof TooManyRequestsError) return 429;
  if (error instanceof ServiceUnavailableError) return 503;
  return 500;
}

const projectsClaimSchema = z.record(z.string(), z.enum(ROLES));

/** The caller the authorizer established; 401 when it refused the token. */
export function principalOf(event: ApiEvent): Principal {
  const context = event.requestContext.authorizer?.lambda;
  if (context && isTrue(context.unavailable)) throw new ServiceUnavailableError(context.reason || 'sign-in service unavailable');
  if (!context || !isTrue(context.authenticated)) {
    throw new UnauthenticatedError(context?.reason || 'Missing or malformed Authorization header');
  }
  return {
    userId: context.userId,
    projects: projectsClaimSchema.parse(JSON.parse(context.projects)),
    platform: isTrue(context.platform),
  };
}

/** API Gateway may hand context booleans over as strings. */
const isTrue = (value: unknown): boolean => value === true || value === 'true';

/** 403 unless the caller may manage the project's subscriptions. */
export function assertCanManage(principal: Principal, projectId: string): void {
  if (!canManageProject(principal, projectId)) {
    throw new ForbiddenError(`owner or admin role on project ${projectId} required`);
  }
}

/** Largest request body the API reads (a routing payload with its context fits easily). */
export const MAX_BODY_BYTES = 256 * 1024;

/** Deepest nesting of objects and arrays a request body may have ({@link MAX_JSON_DEPTH}). */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH;

/**
 * Parses a JSON body against a schema; 400 naming each offending field (the top-level field
 * of a body nested deeper than {@link MAX_BODY_DEPTH}), 413 when too large.
 */
export function parseBody<T extends z.ZodType>(event: ApiEvent, schema: T): z.infer<T> {
  let raw: unknown;
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body;
  if (text && Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  try {
    raw = text?.trim() ? JSON.parse(text) : null;
  } catch {
    throw new ValidationError('body must be valid JSON', [{ field: 'body', message: 'invalid JSON' }]);
  }
  assertShallow(raw, 'body');
  if (!text?.trim() && !schema.safeParse(null).success) {
    throw new ValidationError('invalid body: the body is empty; send a JSON object', [{ field: 'body', message: 'empty: a JSON object is expected' }]);
  }
  return parseWith(schema, raw, 'body');
}

/**
 * 400 when `value` (a parsed body or invoke payload) nests deeper than {@link MAX_BODY_DEPTH},
 * naming the top-level field that does (`what` when the root is an array).
 */
export function assertShallow(value: unknown, what: string): void {
  if (jsonDepth(value) <= MAX_BODY_DEPTH) return;
  const entries = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value) : [];
  // The root object is one level: a field may nest one level less than the body.
  const field = entries.find(([, child]) => jsonDepth(child) >= MAX_BODY_DEPTH)?.[0] ?? what;
  const message = `nested deeper than ${MAX_BODY_DEPTH} levels`;
  throw new ValidationError(`invalid ${what}: ${field}: ${message}`, [{ field, message }]);
}

/** Validates any input against a schema, turning zod issues into field errors. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.flatMap((issue): FieldError[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: key, message: 'unknown field' }));
    }
    return [{ field: issue.path.join('.') || what, message: issue.message }];
  });
  const summary = errors.map((error) => `${error.field}: ${error.message}`).join('; ');
  throw new ValidationError(`invalid ${what}: ${summary}`, errors);
}
