import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { z } from 'zod';
import { API } from '../../lib/settings';
import { EVENT_CATALOG, EVENT_REFINEMENTS } from '../core/event-catalog';
import { NotFoundError } from '../core/errors';
import {
  SubscriptionDeps,
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  updateSubscription,
} from '../core/manage-subscriptions';
import { createSubscriptionSchema, idSchema, toView, updateSubscriptionSchema } from '../core/subscription';
import { parseAllowlist } from '../core/address-policy';
import { booleanFlag, readConfig } from '../adapters/config';
import { logger, metrics, tracer } from '../adapters/observability';
import { SubscriptionStore } from '../adapters/subscription-store';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import {
  ApiEvent,
  ApiResult,
  assertCanManage,
  errorResponse,
  jsonResponse,
  parseWith,
  parseBody,
  principalOf,
} from './http-response';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    ALLOW_HTTP_TARGETS: booleanFlag,
    TARGET_ALLOWLIST: z.string().optional(),
    SUBSCRIPTION_LIMIT: z.coerce.number().int().positive().default(API.subscriptionLimitPerProject),
  }),
);

const deps: SubscriptionDeps = {
  repository: new SubscriptionStore(config.TABLE_NAME),
  targetPolicy: { allowHttp: config.ALLOW_HTTP_TARGETS, allowlist: parseAllowlist(config.TARGET_ALLOWLIST) },
  subscriptionLimit: config.SUBSCRIPTION_LIMIT,
};

const attemptLogs = new AttemptLogStore(config.TABLE_NAME);

const pathSchema = z.object({ projectId: idSchema, id: idSchema.optional() });

const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(API.logsPageSizeMax).default(API.logsPageSize),
  cursor: z.string().max(2048).optional(),
});

/** Routes the subscription API's requests (routes declared in `lib/settings.ts`). */
export async function handleApiRequest(event: ApiEvent): Promise<ApiResult> {
  metrics.addMetric('ApiRequest', 'Count', 1);
  try {
    if (event.routeKey === 'GET /events') {
      principalOf(event);
      return jsonResponse(200, { events: EVENT_CATALOG, refinements: EVENT_REFINEMENTS });
    }
    const principal = principalOf(event);
    const { projectId, id } = parseWith(pathSchema, event.pathParameters ?? {}, 'path');
    assertCanManage(principal, projectId);
    switch (event.routeKey) {
      case 'POST /{projectId}/subscriptions': {
        const input = parseBody(event, createSubscriptionSchema);
        const created = await createSubscription(projectId, input, principal.userId, deps);
        logger.info('subscription created', { projectId, subscriptionId: created._id, event: created.event });
        metrics.addMetric('SubscriptionCreated', 'Count', 1);
        return jsonResponse(201, { ...toView(created), secret: created.secret }, { 'x-hook-secret': created.secret });
      }
      case 'GET /{projectId}/subscriptions':
        return jsonResponse(200, await listSubscriptions(projectId, deps));
      case 'GET /{projectId}/subscriptions/{id}':
        return jsonResponse(200, toView(await getSubscription(projectId, requireId(id), deps)));
      case 'PUT /{projectId}/subscriptions/{id}': {
        const changes = parseBody(event, updateSubscriptionSchema);
        return jsonResponse(200, await updateSubscription(projectId, requireId(id), changes, deps));
      }
      case 'GET /{projectId}/subscriptions/{id}/logs': {
        const { limit, cursor } = parseWith(pageQuerySchema, event.queryStringParameters ?? {}, 'query');
        const subscriptionId = requireId(id);
        const page = await attemptLogs.listBySubscription(projectId, subscriptionId, limit, cursor);
        // Logs outlive a deleted subscription (e.g. one removed by a 410), so only an id
        // with neither a subscription nor any log is unknown.
        if (page.items.length === 0 && !cursor) await getSubscription(projectId, subscriptionId, deps);
        return jsonResponse(200, page);
      }
      case 'GET /{projectId}/subscriptions/history': {
        const { limit, cursor } = parseWith(pageQuerySchema, event.queryStringParameters ?? {}, 'query');
        return jsonResponse(200, await attemptLogs.listByProject(projectId, limit, cursor));
      }
      case 'DELETE /{projectId}/subscriptions/{id}': {
        const deleted = await deleteSubscription(projectId, requireId(id), deps);
        logger.info('subscription deleted', { projectId, subscriptionId: deleted._id });
        return jsonResponse(200, deleted);
      }
      default:
        throw new NotFoundError(`no route ${event.routeKey}`);
    }
  } catch (error) {
    return errorResponse(error);
  }
}

function requireId(id: string | undefined): string {
  if (!id) throw new NotFoundError('subscription id missing');
  return id;
}

export const handler = middy(handleApiRequest)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
