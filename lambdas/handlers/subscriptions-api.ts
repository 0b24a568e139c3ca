import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { API, DELIVERY, REQUEST_LIMITS, SUBSCRIPTIONS_FUNCTION, TABLE_KEYS } from '../core/settings';
import { parseRequestLimit } from '../core/request-limit';
import { EVENT_REFINEMENTS, OPERATOR_SELECT_EVENT } from '../core/event-catalog';
import { catalogWithExamples } from '../core/event-payloads';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors';
import { DeliveryMessage, WakeMessage } from '../core/delivery-message';
import { PostRequest } from '../core/deliver';
import { historyPageProblem, historyReadBudget, readTiledeskHistoryPage } from '../core/history-page';
import { TEST_PING_PREFIX, logKeyAt, messageFromAttempt, recoverPage, waitingUntil } from '../core/recovery';
import { sendTestPing } from '../core/test-ping';
import { stringifyJson } from '../core/json-text';
import {
  SubscriptionDeps,
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  rotateSecret,
  updateSubscription,
} from '../core/manage-subscriptions';
import { Subscription, SubscriptionView, createSubscriptionSchema, toView, updateSubscriptionSchema } from '../core/subscription';
import { pageQuerySchema, pathSchema, recoverSchema, tiledeskPageQuerySchema } from '../core/api-schemas';
import { parseAllowlist } from '../core/address-policy';
import { booleanFlag, readConfig } from '../adapters/config';
import { instrument, logger, metrics } from '../adapters/observability';
import { SubscriptionStore } from '../adapters/subscription-store';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import { DeliveryHealthStore } from '../adapters/delivery-health-store';
import { RequestLimitStore } from '../adapters/request-limit-store';
import { RecoveryMarkerStore } from '../adapters/recovery-marker-store';
import { HealthView, healthView } from '../core/delivery-health';
import { sendMessages, trySendMessages } from '../adapters/sqs-queue';
import { postWebhook } from '../adapters/webhook-client';
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
    DELIVERY_QUEUE_URL: z.string().min(1),
    DELIVERY_TIMEOUT_MS: z.coerce.number().int().positive().default(DELIVERY.timeoutMs),
    WEBHOOK_ORIGIN: z.string().min(1),
    TEST_PING_TIMEOUT_MS: z.coerce.number().int().positive().default(SUBSCRIPTIONS_FUNCTION.testPingTimeoutMs),
    [REQUEST_LIMITS.projectApi.setting]: z.string().optional(),
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
  }),
);

/** Each project's share of the API; one caller cannot use up the stage's throttle for all. */
const projectLimit = parseRequestLimit(REQUEST_LIMITS.projectApi.setting, config.PROJECT_API_LIMIT, REQUEST_LIMITS.projectApi.defaults);
const limits = new RequestLimitStore(config.TABLE_NAME);

const allowlist = parseAllowlist(config.TARGET_ALLOWLIST);

const subscriptionStore = new SubscriptionStore(config.TABLE_NAME, undefined, config.ATTEMPT_LOG_TTL_DAYS);

const deps: SubscriptionDeps = {
  repository: subscriptionStore,
  targetPolicy: { allowHttp: config.ALLOW_HTTP_TARGETS, allowlist },
  subscriptionLimit: config.SUBSCRIPTION_LIMIT,
};

/** Sends test pings, which run while the client waits: bounded well inside this function's timeout. */
const sender = {
  post: (request: PostRequest) =>
    postWebhook({
      ...request,
      timeoutMs: Math.min(config.DELIVERY_TIMEOUT_MS, config.TEST_PING_TIMEOUT_MS),
      maxResponseBytes: DELIVERY.responseBodyLimitBytes,
      allowlist,
    }),
  origin: config.WEBHOOK_ORIGIN,
};

/** Recovered and replayed deliveries join the fast lane's fair queue, the project as tenant. */
const toLane = (messages: DeliveryMessage[]) => messages.map((message) => ({ body: stringifyJson(message), groupId: message.projectId }));
const enqueue = (messages: DeliveryMessage[]): Promise<void> => sendMessages(config.DELIVERY_QUEUE_URL, toLane(messages));
/** The same, answering which messages SQS did not take (recover keeps the markers of the others). */
const trySend = (messages: DeliveryMessage[]) => trySendMessages(config.DELIVERY_QUEUE_URL, toLane(messages));

/**
 * Resets a subscription's delivery health and releases the deliveries its circuit held at once:
 * the wake-up message that releases them (paced) is sent now (docs/design.md §3.19).
 */
async function resetHealth(projectId: string, subscriptionId: string): Promise<void> {
  const wakeAt = await healthStore.resetReleasingHeld(projectId, subscriptionId, Date.now());
  const wake: WakeMessage = { wake: 'release-held', projectId, subscriptionId, wakeAt };
  await sendMessages(config.DELIVERY_QUEUE_URL, [{ body: stringifyJson(wake), groupId: projectId }]);
}

const attemptLogs = new AttemptLogStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);
const healthStore = new DeliveryHealthStore(config.TABLE_NAME);

/** Subscriptions as the API shows them, each with its delivery health. */
async function withHealth(projectId: string, views: SubscriptionView[]): Promise<(SubscriptionView & { health: HealthView })[]> {
  const healths = await healthStore.getMany(views.map((view) => ({ projectId, subscriptionId: view._id })));
  const now = Date.now();
  return views.map((view) => ({ ...view, health: healthView(healths.get(view._id)!, now, view.rateLimit, DELIVERY.rateLimitToleranceMs) }));
}

/**
 * Attempts one recover call reads from each log shard, so a call's work is bounded whatever the
 * subscription's volume (8 shards: at most 2,000 light attempts, a few hundred ms of reads);
 * the answer's nextCursor goes on.
 */
const RECOVER_SCAN_PER_SHARD = 250;

const recoveryMarkers = new RecoveryMarkerStore(config.TABLE_NAME);

/** Routes the subscription API's requests (routes declared in `lambdas/core/settings.ts`). */
export async function handleApiRequest(event: ApiEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<ApiResult> {
  metrics.addMetric('ApiRequest', 'Count', 1);
  try {
    if (event.routeKey === 'GET /events') {
      principalOf(event);
      return jsonResponse(200, { events: catalogWithExamples(), refinements: EVENT_REFINEMENTS });
    }
    const principal = principalOf(event);
    const { projectId, id, logId } = parseWith(pathSchema, event.pathParameters ?? {}, 'path');
    assertCanManage(principal, projectId);
    // Counted once the caller may act on the project, so no one else can spend its share.
    await limits.take('api', projectId, projectLimit, `project ${projectId}`);
    switch (event.routeKey) {
      case 'POST /{projectId}/subscriptions': {
        const input = parseBody(event, createSubscriptionSchema);
        const { subscription, created } = await createSubscription(projectId, input, principal.userId, deps);
        if (created) {
          logger.info('subscription created', { projectId, subscriptionId: subscription._id, event: subscription.event });
          metrics.addMetric('SubscriptionCreated', 'Count', 1);
        } else {
          logger.info('subscription already existed; answered with it', { projectId, subscriptionId: subscription._id });
        }
        const [view] = await withHealth(projectId, [toView(subscription)]);
        // 200 whether new or existing, as Tiledesk answers: its connectors treat anything else as an error.
        return jsonResponse(200, { ...view, secret: subscription.secret }, { 'x-hook-secret': subscription.secret });
      }
      case 'GET /{projectId}/subscriptions':
        return jsonResponse(200, await withHealth(projectId, await listSubscriptions(projectId, deps)));
      case 'GET /{projectId}/subscriptions/{id}': {
        const [view] = await withHealth(projectId, [toView(await getSubscription(projectId, requireId(id), deps))]);
        return jsonResponse(200, view);
      }
      case 'PUT /{projectId}/subscriptions/{id}': {
        const changes = parseBody(event, updateSubscriptionSchema);
        const updated = await updateSubscription(projectId, requireId(id), changes, deps);
        // Re-enabling starts afresh: circuit closed, fast lane, no failures counted.
        if (changes.status === 'active') await resetHealth(projectId, updated._id);
        const [view] = await withHealth(projectId, [updated]);
        return jsonResponse(200, view);
      }
      case 'DELETE /{projectId}/subscriptions/{id}/health': {
        const subscription = await getSubscription(projectId, requireId(id), deps);
        await resetHealth(projectId, subscription._id);
        logger.info('delivery health reset; held deliveries released', { projectId, subscriptionId: subscription._id });
        const [view] = await withHealth(projectId, [toView(subscription)]);
        return jsonResponse(200, view);
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
        const query = event.queryStringParameters ?? {};
        const owners = await subscriptionStore.logOwners(projectId);
        if (query.page !== undefined) {
          const { page } = parseWith(tiledeskPageQuerySchema, query, 'query');
          const partitions = owners.length * TABLE_KEYS.attemptLogShards;
          const tooDeep = historyPageProblem(page, partitions, API.logsPageSizeMax);
          if (tooDeep) throw new ValidationError(`page: ${tooDeep}`, [{ field: 'page', message: tooDeep }]);
          const read = (limit: number, cursor: string | undefined) => attemptLogs.listByProject(projectId, owners, limit, cursor);
          const timeLeftMs = context ? () => context.getRemainingTimeInMillis() : undefined;
          return jsonResponse(200, await readTiledeskHistoryPage(page, read, API.logsPageSizeMax, historyReadBudget(partitions), timeLeftMs));
        }
        const { limit, cursor } = parseWith(pageQuerySchema, query, 'query');
        return jsonResponse(200, await attemptLogs.listByProject(projectId, owners, limit, cursor));
      }
      case 'DELETE /{projectId}/subscriptions/{id}': {
        const deleted = await deleteSubscription(projectId, requireId(id), deps);
        const [view] = await withHealth(projectId, [deleted]);
        await healthStore.reset(projectId, deleted._id);
        logger.info('subscription deleted', { projectId, subscriptionId: deleted._id });
        return jsonResponse(200, view);
      }
      case 'POST /{projectId}/subscriptions/{id}/rotate-secret': {
        const rotated = await rotateSecret(projectId, requireId(id), deps);
        logger.info('secret rotated', { projectId, subscriptionId: rotated._id });
        const [view] = await withHealth(projectId, [toView(rotated)]);
        return jsonResponse(
          200,
          { ...view, secret: rotated.secret, previousSecretExpiresAt: rotated.previousSecretExpiresAt },
          { 'x-hook-secret': rotated.secret },
        );
      }
      case 'POST /{projectId}/subscriptions/{id}/test': {
        const subscription = await getSubscription(projectId, requireId(id), deps);
        const attempt = await sendTestPing(subscription, sender);
        await attemptLogs.write([attempt]);
        const { payload: _payload, ...shown } = attempt;
        return jsonResponse(200, shown);
      }
      case 'POST /{projectId}/subscriptions/{id}/recover': {
        const { since, cursor } = parseBody(event, recoverSchema);
        const subscription = assertAsynchronous(await getSubscription(projectId, requireId(id), deps));
        if (subscription.status !== 'active') {
          throw new ConflictError('the subscription is disabled: re-enable it first with PUT {"status":"active"}');
        }
        const now = new Date();
        const health = await healthStore.get(projectId, subscription._id);
        const subscriptionId = subscription._id;
        const result = await recoverPage(cursor ?? logKeyAt(new Date(since)), now, { waitingUntil: waitingUntil(health, subscription, now.getTime()) }, {
          listPage: (fromKey) => attemptLogs.listPageFrom(projectId, subscriptionId, fromKey, RECOVER_SCAN_PER_SHARD),
          claim: (logId) => recoveryMarkers.claim(projectId, subscriptionId, logId, now),
          release: (logId) => recoveryMarkers.release(projectId, subscriptionId, logId),
          read: (logId) => attemptLogs.get(projectId, subscriptionId, logId),
          send: trySend,
          ...(context ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
        });
        logger.info('deliveries recovered', {
          projectId,
          subscriptionId,
          count: result.recovered,
          alreadyRecovered: result.alreadyRecovered,
          unrecoverable: result.unrecoverable,
        });
        return jsonResponse(202, result);
      }
      case 'POST /{projectId}/subscriptions/{id}/logs/{logId}/retry': {
        const subscription = assertAsynchronous(await getSubscription(projectId, requireId(id), deps));
        const attempt = await attemptLogs.get(projectId, subscription._id, logId ?? '');
        if (attempt?.webhookId.startsWith(TEST_PING_PREFIX)) {
          throw new ConflictError(`attempt ${logId} is a test ping: send a new one with POST /${projectId}/subscriptions/${subscription._id}/test`);
        }
        const message = attempt && messageFromAttempt(attempt);
        if (!message) throw new NotFoundError(`no replayable attempt ${logId} for subscription ${subscription._id}`);
        // As logged: a subscription moved to another event since skips it (logged as skipped),
        // rather than deliver the old event's payload under the new event's name.
        await enqueue([message]);
        return jsonResponse(202, { enqueued: 1, webhookId: message.webhookId });
      }
      default:
        throw new NotFoundError(`no route ${event.routeKey}`);
    }
  } catch (error) {
    return errorResponse(error);
  }
}

/**
 * operator.select is answered while the platform waits; a routing request replayed or
 * recovered later would reach the hook when nobody listens, so both are refused.
 */
function assertAsynchronous(subscription: Subscription): Subscription {
  if (subscription.event === OPERATOR_SELECT_EVENT) {
    throw new ConflictError('operator.select is synchronous: its calls cannot be replayed or recovered');
  }
  return subscription;
}

function requireId(id: string | undefined): string {
  if (!id) throw new NotFoundError('subscription id missing');
  return id;
}

export const handler = instrument(handleApiRequest);
