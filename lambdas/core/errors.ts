import type { Subscription } from './subscription';

/** One error type per failure kind; `lambdas/handlers/http-response.ts` maps them to HTTP. */

/** A field-level problem reported back to the caller. */
export interface FieldError {
  field: string;
  message: string;
}

/** Input that fails validation: 400. */
export class ValidationError extends Error {
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** No token, or one that is expired, malformed or wrongly signed: 401. */
export class UnauthenticatedError extends Error {
  constructor(message = 'Unauthorized') {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

/** A valid token without the right on this project: 403. */
export class ForbiddenError extends Error {
  constructor(message = 'Forbidden') {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** Absent, or belonging to another project: 404. */
export class NotFoundError extends Error {
  constructor(message = 'Not found') {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** Conflicts with what exists: duplicate subscription, second operator.select, limit reached: 409. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * A create that repeats an existing subscription (same event and target in the project): the
 * create answers with `existing` instead, as Tiledesk does. Elsewhere (an update onto another
 * subscription's event and target) it is the 409 it extends.
 */
export class DuplicateSubscriptionError extends ConflictError {
  constructor(readonly existing: Subscription) {
    super('a subscription to this event and target already exists in this project');
    this.name = 'DuplicateSubscriptionError';
  }
}

/** A request body over the API's cap: 413. */
export class PayloadTooLargeError extends Error {
  constructor(limitBytes: number) {
    super(`request body is larger than ${limitBytes} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/** A service the request depends on cannot answer now (e.g. Tiledesk for a sign-in): 503. */
export class ServiceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceUnavailableError';
  }
}

/**
 * An AWS service stayed busy after the SDK's own retries in a way our adapters noticed without
 * an SDK error to pass on (DynamoDB leaving batch items unprocessed, SQS refusing every entry of a
 * batch on its side): 503 with `Retry-After`, as {@link isAwsBusy} errors are.
 */
export class AwsBusyError extends ServiceUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'AwsBusyError';
  }
}

/** The error for messages SQS did not take: busy when SQS refused every one of them on its side, a plain Error otherwise. */
export function sqsRefusal(message: string, refused: readonly { busy?: boolean }[]): Error {
  return refused.every((entry) => entry.busy) ? new AwsBusyError(message) : new Error(message);
}

/**
 * Error names AWS services use for "slow down" (DynamoDB's on-demand and partition limits, SQS,
 * EventBridge, S3, Secrets Manager); the SDK has retried them already when one reaches a handler.
 */
const AWS_THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'LimitExceededException',
  'SlowDown',
]);
/** Node's errors for a connection to an AWS endpoint that failed or was cut, or a DNS answer that failed for now. */
const CONNECTION_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/**
 * Whether an error is an AWS service being busy or briefly unreachable, after the SDK's own
 * retries: throttled, answering 5xx, or its connection timed out or was cut. Such a request can
 * be sent again as it was, so the API answers 503 with `Retry-After`, not 500. Only errors the
 * SDK raised count (they carry `$metadata`): a fault of this code stays a 500.
 */
export function isAwsBusy(error: unknown): boolean {
  if (error instanceof AwsBusyError) return true;
  // Not `instanceof Error`: Node's own errors (a refused connection) may come from another realm.
  if (typeof error !== 'object' || error === null) return false;
  const { $metadata, $retryable, code, name } = error as {
    $metadata?: { httpStatusCode?: number } | null;
    $retryable?: { throttling?: boolean };
    code?: unknown;
    name?: unknown;
  };
  if (typeof $metadata !== 'object' || $metadata === null) return false;
  const status = $metadata.httpStatusCode ?? 0;
  return (
    AWS_THROTTLING_NAMES.has(String(name)) ||
    $retryable?.throttling === true ||
    status === 429 ||
    // 501 Not Implemented is a request the service will never take: a fault of this code.
    (status >= 500 && status !== 501) ||
    name === 'TimeoutError' ||
    CONNECTION_ERROR_CODES.has(String(code))
  );
}

/** Over a per-tenant request limit: 429, with `Retry-After` in seconds. */
export class TooManyRequestsError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'TooManyRequestsError';
  }
}
