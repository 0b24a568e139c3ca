import * as z from 'zod';
import { DELIVERY, REQUEST_LIMITS } from '../core/settings';
import { parseRequestLimit } from '../core/request-limit';
import { parseAllowlist } from '../core/address-policy';
import { ValidationError } from '../core/errors';
import { RoutingRequest, routingRequestSchema } from '../core/operator-select';
import { idSchema } from '../core/subscription';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import { readConfig } from '../adapters/config';
import { instrument, metrics } from '../adapters/observability';
import { operatorSelectRouter } from '../adapters/operator-select-router';
import { RequestLimitStore } from '../adapters/request-limit-store';
import { SubscriptionStore } from '../adapters/subscription-store';
import { postWebhook } from '../adapters/webhook-client';
import { ApiEvent, ApiResult, assertCanManage, assertShallow, errorResponse, jsonResponse, parseBody, parseWith, principalOf } from './http-response';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    TARGET_ALLOWLIST: z.string().optional(),
    PROJECT_EVENTS_LIMIT: z.string().optional(),
    OPERATOR_SELECT_TIMEOUT_MS: z.coerce.number().int().positive().default(DELIVERY.operatorSelectTimeoutMs),
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
    WEBHOOK_ORIGIN: z.string().min(1),
  }),
);

const subscriptions = new SubscriptionStore(config.TABLE_NAME);
const attemptLogs = new AttemptLogStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);
const allowlist = parseAllowlist(config.TARGET_ALLOWLIST);
const limits = new RequestLimitStore(config.TABLE_NAME);
/** Calls over HTTP have the project's events rate, counted apart from its published events. */
const callLimit = parseRequestLimit(REQUEST_LIMITS.projectEvents.setting, config.PROJECT_EVENTS_LIMIT, REQUEST_LIMITS.projectEvents.defaults);

/** The hook's answer is read whole up to this size (it is JSON, not a log excerpt). */
const MAX_ANSWER_BYTES = 256 * 1024;

const sender = {
  post: (request: { url: string; headers: Record<string, string>; body: string }) =>
    postWebhook({ ...request, timeoutMs: config.OPERATOR_SELECT_TIMEOUT_MS, maxResponseBytes: MAX_ANSWER_BYTES, allowlist }),
  origin: config.WEBHOOK_ORIGIN,
};

/** Runs the hook for one routing request; past validation, any failure means default routing. */
const route = operatorSelectRouter({ subscriptions, attemptLogs, sender, calls: { store: limits, limit: callLimit } });

/**
 * `POST /{projectId}/operator-select` (platform token, or owner/admin of the project), or a
 * direct Lambda Invoke with the routing payload itself. Answers the routing result, with
 * `x-operator-select-path: hook|default` saying which routing was used.
 */
export async function operatorSelect(event: ApiEvent | Record<string, unknown>): Promise<ApiResult | RoutingRequest> {
  metrics.addMetric('OperatorSelectRequest', 'Count', 1);
  if (!isApiEvent(event)) {
    assertShallow(event, 'payload');
    const request = parseWith(routingRequestSchema, event, 'payload');
    return (await route(request)).result;
  }
  try {
    const principal = principalOf(event);
    const { projectId } = parseWith(z.object({ projectId: idSchema }), event.pathParameters ?? {}, 'path');
    assertCanManage(principal, projectId);
    const body = parseBody(event, z.looseObject({ id_project: z.string().optional() }));
    if (body.id_project !== undefined && body.id_project !== projectId) {
      throw new ValidationError('id_project must match the path', [{ field: 'id_project', message: 'differs from the path' }]);
    }
    const request = parseWith(routingRequestSchema, { ...body, id_project: projectId }, 'body');
    const selection = await route(request);
    return jsonResponse(200, selection.result, {
      'x-operator-select-path': selection.path,
      'x-operator-select-reason': selection.reason,
    });
  } catch (error) {
    return errorResponse(error);
  }
}

function isApiEvent(event: ApiEvent | Record<string, unknown>): event is ApiEvent {
  return typeof event.requestContext === 'object' && event.requestContext !== null && 'routeKey' in event;
}

export const handler = instrument(operatorSelect);
