import { DELIVERY, SUBSCRIPTIONS_FUNCTION } from '../lambdas/core/settings';

/** The longest a Lambda integration of an HTTP API may run before API Gateway answers 503. */
const HTTP_API_INTEGRATION_TIMEOUT_SECONDS = 30;

/** Time each function keeps after its HTTP call for the rest of its work (reads, the attempt log, the answer). */
const DELIVERY_MARGIN_MS = 10_000;
const TEST_PING_MARGIN_MS = 3000;
/** The operator.select function is given its hook's timeout plus this. */
export const OPERATOR_SELECT_MARGIN_SECONDS = 5;

/** The operator.select function's timeout for a hook timeout. */
export const operatorSelectFunctionTimeoutSeconds = (operatorSelectTimeoutMs: number): number =>
  Math.ceil(operatorSelectTimeoutMs / 1000) + OPERATOR_SELECT_MARGIN_SECONDS;

/** The HTTP timeouts a deployment (or the local stack) may choose. */
export interface HttpTimeouts {
  deliveryTimeoutMs?: number;
  operatorSelectTimeoutMs?: number;
  testPingTimeoutMs?: number;
}

/** Each timeout's upper bound and why, so an error can say both. */
export const TIMEOUT_LIMITS: Record<keyof HttpTimeouts, { maxMs: number; because: string }> = {
  deliveryTimeoutMs: {
    maxMs: DELIVERY.functionTimeoutSeconds * 1000 - DELIVERY_MARGIN_MS,
    because: `the delivery function stops after ${DELIVERY.functionTimeoutSeconds} s and needs ${DELIVERY_MARGIN_MS / 1000} s to log the attempt and reschedule`,
  },
  operatorSelectTimeoutMs: {
    maxMs: (HTTP_API_INTEGRATION_TIMEOUT_SECONDS - OPERATOR_SELECT_MARGIN_SECONDS) * 1000,
    because: `API Gateway gives the operator.select function at most ${HTTP_API_INTEGRATION_TIMEOUT_SECONDS} s, ${OPERATOR_SELECT_MARGIN_SECONDS} s of which it keeps to answer`,
  },
  testPingTimeoutMs: {
    maxMs: SUBSCRIPTIONS_FUNCTION.timeoutSeconds * 1000 - TEST_PING_MARGIN_MS,
    because: `the subscriptions function stops after ${SUBSCRIPTIONS_FUNCTION.timeoutSeconds} s and needs ${TEST_PING_MARGIN_MS / 1000} s to log the ping`,
  },
};

/**
 * The first timeout that does not fit its function, as a one-line message naming the setting
 * (`names` maps each to how the caller spells it: a context key, an environment variable) and
 * the range to use; `undefined` when all fit.
 */
export function timeoutProblem(
  timeouts: HttpTimeouts,
  names: Partial<Record<keyof HttpTimeouts, string>> = {},
): string | undefined {
  for (const key of Object.keys(TIMEOUT_LIMITS) as (keyof HttpTimeouts)[]) {
    const value = timeouts[key];
    if (value === undefined) continue;
    const { maxMs, because } = TIMEOUT_LIMITS[key];
    if (!Number.isInteger(value) || value < 1 || value > maxMs) {
      return `${names[key] ?? key} must be whole milliseconds from 1 to ${maxMs} (${because}); got ${value}`;
    }
  }
  return undefined;
}

/** Refuses, at synth, a timeout its function cannot honour (the call would end in a 5xx or a lost attempt log). */
export function assertTimeoutsFit(timeouts: HttpTimeouts): void {
  const problem = timeoutProblem(timeouts);
  if (problem) throw new Error(problem);
}
