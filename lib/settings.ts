/**
 * Settings shared by the CDK stack and the local stack, declared once so the two runtimes
 * cannot drift. Plain data only: no CDK imports, so the local runtime and tests can load it.
 */

/** The service version, sent in the `user-agent` of every webhook (kept equal to package.json by a test). */
export const SERVICE_VERSION = '0.1.0';

/** Single-table layout of the webhooks table. */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Keys-only index of subscriptions by project and topic, read by the fan-out. */
  topicIndex: { name: 'byTopic', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'KEYS_ONLY' },
  /**
   * Keys-only index of a whole project's attempt logs, newest first; the history listing reads
   * the items from the table. Projecting the attempts (payload included) would double each log's
   * write units and storage for a rarely read listing.
   */
  historyIndex: { name: 'byProjectHistory', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', projection: 'KEYS_ONLY' },
  /** Epoch seconds after which DynamoDB TTL removes an attempt log. */
  ttlAttribute: 'expiresAt',
} as const;

/** Resource names the local stack uses; the deployed stack lets CloudFormation name them. */
export const LOCAL_NAMES = {
  table: 'tiledesk-webhooks',
  bus: 'tiledesk',
  fanOutQueue: 'tiledesk-webhooks-fan-out',
  fanOutDlq: 'tiledesk-webhooks-fan-out-dlq',
  deliveryQueue: 'tiledesk-webhooks-delivery',
  deliveryDlq: 'tiledesk-webhooks-delivery-dlq',
} as const;

/** The EventBridge source every Tiledesk event is published with. */
export const EVENT_SOURCE = 'tiledesk';

/** The rule pattern that routes bus events to the fan-out queue (deployed and local). */
export const EVENT_RULE_PATTERN = { source: [EVENT_SOURCE] } as const;

/** Fan-out queue and its event source mapping. */
export const FAN_OUT = {
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
  functionTimeoutSeconds: 30,
  visibilityTimeoutSeconds: 180,
  maxReceiveCount: 5,
} as const;

/** Default retry schedule in seconds, after the first attempt (DESIGN §4). */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;

/** Delivery queue, its event source mapping and the HTTP delivery itself. */
export const DELIVERY = {
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  functionTimeoutSeconds: 60,
  visibilityTimeoutSeconds: 360,
  /** Upper bound of concurrent delivery Lambdas, so a burst cannot flood subscribers. */
  maxConcurrency: 20,
  timeoutMs: 10_000,
  /** ± fraction applied to each retry delay. */
  jitter: 0.2,
  /** Bounds within which a subscriber's Retry-After is honoured, in seconds. */
  retryAfterMinSeconds: 1,
  retryAfterMaxSeconds: 43_200,
  responseBodyLimitBytes: 4096,
  attemptLogTtlDays: 30,
  /** Dead-lettered deliveries in a row after which a subscription is disabled. */
  autoDisableAfterDead: 5,
  /** How long the operator.select hook may take before the default routing is used. */
  operatorSelectTimeoutMs: 5000,
} as const;

/**
 * Receives a delivery message may take: the first attempt plus one per retry. SQS moves a
 * message to the DLQ when it is received more often than this.
 */
export const deliveryMaxReceiveCount = (schedule: readonly number[]): number => schedule.length + 1;

/** SQS limits that bound the retry schedule. */
const MAX_VISIBILITY_SECONDS = 43_200;
const MIN_RETENTION_SECONDS = 4 * 86_400;
const MAX_RETENTION_SECONDS = 14 * 86_400;

/**
 * How long the delivery queue must keep a message: SQS counts retention from the first send,
 * so it must outlast every retry at its longest (each delay can become a 12 h Retry-After)
 * plus every invocation, or a message could expire before it reaches the DLQ. Throws for a
 * schedule SQS cannot honour.
 */
export function deliveryRetentionSeconds(schedule: readonly number[], functionTimeoutSeconds: number): number {
  for (const delay of schedule) {
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_VISIBILITY_SECONDS) {
      throw new Error(`retry delays must be whole seconds from 0 to ${MAX_VISIBILITY_SECONDS}; got ${delay}`);
    }
  }
  const longestLife = schedule.length * MAX_VISIBILITY_SECONDS + deliveryMaxReceiveCount(schedule) * functionTimeoutSeconds;
  if (longestLife > MAX_RETENTION_SECONDS) {
    throw new Error(`a schedule of ${schedule.length} retries can outlive SQS's 14-day retention; use fewer retries`);
  }
  return Math.max(MIN_RETENTION_SECONDS, longestLife);
}

/** Subscription API defaults. */
export const API = {
  subscriptionLimitPerProject: 100,
  logsPageSize: 50,
  logsPageSizeMax: 200,
} as const;

/** Routes of the HTTP API, shared by the CDK stack and the local API server. */
export const SUBSCRIPTION_ROUTES = [
  'GET /events',
  'POST /{projectId}/subscriptions',
  'GET /{projectId}/subscriptions',
  'GET /{projectId}/subscriptions/history',
  'GET /{projectId}/subscriptions/{id}',
  'PUT /{projectId}/subscriptions/{id}',
  'DELETE /{projectId}/subscriptions/{id}',
  'GET /{projectId}/subscriptions/{id}/logs',
  'POST /{projectId}/subscriptions/{id}/rotate-secret',
  'POST /{projectId}/subscriptions/{id}/test',
  'POST /{projectId}/subscriptions/{id}/recover',
  'POST /{projectId}/subscriptions/{id}/logs/{logId}/retry',
] as const;

/** The synchronous operator.select hook's route (its own function). */
export const OPERATOR_SELECT_ROUTE = 'POST /{projectId}/operator-select';

export type SubscriptionRoute = (typeof SUBSCRIPTION_ROUTES)[number];
