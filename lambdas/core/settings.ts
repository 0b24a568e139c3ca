/**
 * Settings shared by the CDK stack and the local stack, declared once so the two runtimes
 * cannot drift. Plain data only: no CDK imports, so the local runtime and tests can load it.
 */

/**
 * The service version, package.json's. Webhooks no longer carry it: their `user-agent` is
 * Tiledesk's exact `tiledesk-webhooks` (lambdas/core/signing.ts).
 */
export const SERVICE_VERSION = '0.1.0';

/** Single-table layout of the webhooks table. */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /**
   * The keys-only index of subscriptions by topic the fan-out read until 2026-12-05. Nothing
   * reads or writes it now (it is only eventually consistent; the fan-out reads the guards):
   * it stays, with its Query grants, for one release, so that during an upgrade the code still
   * running from before finds it (CloudFormation updates the table and the roles before the
   * functions' code). The release after removes it.
   */
  legacyTopicIndex: { name: 'byTopic', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'KEYS_ONLY' },
  /**
   * Partition keys a subscription's attempt logs are spread
   * over: each partition key takes ~1,000 write units/s, so 8 give a busy subscription ~8,000
   * one-unit attempts/s (docs/design.md §3.5).
   */
  attemptLogShards: 8,
  /** Epoch seconds after which DynamoDB TTL removes an attempt log. */
  ttlAttribute: 'expiresAt',
} as const;

/** The EventBridge source every Tiledesk event is published with. */
export const EVENT_SOURCE = 'tiledesk';

/** The rule pattern that routes bus events to the fan-out queue (deployed and local). */
export const EVENT_RULE_PATTERN = { source: [EVENT_SOURCE] } as const;

/** Fan-out queue and its event source mapping. */
export const FAN_OUT = {
  batchSize: 10,
  /** No batching window: a lone event is fanned out at once instead of waiting for company. */
  maxBatchingWindowSeconds: 0,
  functionTimeoutSeconds: 30,
  visibilityTimeoutSeconds: 180,
  maxReceiveCount: 5,
  /**
   * Concurrency reserved for the fan-out, which also caps it, and its event source's maximum
   * concurrency: a burst of events cannot take the account's executions from delivery and the
   * API (docs/design.md §3.12).
   */
  maxConcurrency: 10,
  /**
   * `MaximumMessageSize` of the queues that carry whole events or payloads (fan-out queue, its
   * DLQ, the rule's DLQ, both delivery lanes and their DLQ): SQS's largest, 1 MiB, above an event
   * entry's 256 KB plus EventBridge's envelope or a delivery message's fields.
   */
  maxMessageSizeBytes: 1_048_576,
} as const;

/** Default retry schedule in seconds, after the first attempt (DESIGN §4). */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;

/** Delivery queues (fast and slow lane), their event source mappings and the HTTP delivery itself. */
export const DELIVERY = {
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  functionTimeoutSeconds: 60,
  visibilityTimeoutSeconds: 360,
  /**
   * Receives after which SQS moves a message to the DLQ. Attempts travel in the message, so this
   * only catches poison: a message whose invocation keeps failing before it can be handled.
   */
  poisonReceiveCount: 5,
  /** Upper bound of concurrent fast-lane delivery Lambdas, so a burst cannot flood subscribers. */
  maxConcurrency: 20,
  /**
   * POSTs one invocation makes to one subscriber at once; the rest of its deliveries follow as
   * those end. With packs (docs/design.md §3.20) a batch can carry 100 deliveries of one
   * subscriber: this keeps what a burst sends a subscriber at once where a batch of single
   * messages kept it, at most `maxConcurrency` × 10.
   */
  postsAtOncePerSubscription: 10,
  /**
   * Upper bound of concurrent slow-lane delivery Lambdas: slow subscribers share only these. A
   * batch's POSTs run at once, so a batch lasts about its slowest answer: 50 × 10 / 3 s ≈ 166
   * deliveries/s for subscribers answering in 3 s, 50/s for 10 s (docs/design.md §3.2).
   */
  slowLaneMaxConcurrency: 50,
  /** The subscriber's deadline (DESIGN §4), applied in the slow lane. */
  timeoutMs: 10_000,
  /**
   * The fast lane's deadlines: a subscriber that has not answered within `fastLaneAnswerMs` of
   * the request being sent, or within `fastLaneTimeoutMs` in all (DNS, connect and TLS
   * included), is moved to the slow lane, where the message is tried again at once with the full
   * timeout. The answer's deadline is what a hanging receiver holds a fast-lane batch for
   * (docs/design.md §3.2); the whole one leaves a far receiver's cold TLS handshake room.
   */
  fastLaneAnswerMs: 500,
  fastLaneTimeoutMs: 1_000,
  /**
   * A fast-lane batch still running after this long (a receiver slow to answer or a rate slot
   * awaited, and the event source's poller waiting with it) makes its invocation take more of
   * the lane's messages meanwhile, so that receivers holding every poller do not hold other
   * projects' deliveries (docs/design.md §3.2). A healthy batch runs a few tens of ms.
   */
  workWhileHeldAfterMs: 100,
  /** The first wait between short polls of a held invocation that found the lane empty; doubled up to the maximum. */
  workWhileHeldIdleMs: 50,
  workWhileHeldIdleMaxMs: 200,
  /**
   * Answers this quick (after the request was sent), this many in a row in the slow lane, bring
   * a subscription back to the fast lane: half the fast lane's answer deadline, so a subscriber
   * near it does not go back and forth.
   */
  quickAnswerMs: 250,
  quickAnswersToReturn: 10,
  /**
   * A subscriber moved to the slow lane again within this long of its return needs twice the
   * quick answers to return the next time, up to the maximum (64 times the first: 640): a
   * receiver that answers quickly only to hang again cannot hold a fast-lane poller for the
   * answer deadline every eleven deliveries.
   */
  laneRepeatWindowSeconds: 3_600,
  quickAnswersToReturnMax: 640,
  /** Consecutive failures (error, timeout, non-2xx) that open a subscription's circuit. */
  circuitFailuresToOpen: 5,
  /** The open circuit's first cool-down, doubled at each failed probe up to the maximum. */
  circuitCooldownSeconds: 30,
  circuitMaxCooldownSeconds: 1_800,
  /** Longest wait SQS can give a message (DelaySeconds); longer waits hop in steps of this. */
  maxDelaySeconds: 900,
  /**
   * Burst a rate limit allows on top of its steady rate, in ms of the rate's worth. None: the
   * slots are exactly 1/rate apart, so a second of them holds `rateLimit` (500 ms until
   * 2026-12-05 let 1.5 × rate + 1 go in a backlog's first second, over a receiver's own limit).
   */
  rateLimitToleranceMs: 0,
  /**
   * Deliveries an open circuit parked are released once it closes, ramping up: at first this
   * many a second, doubled each second while the subscriber's answers stay good, up to the
   * maximum (never above the subscription's rate limit), at least a batch per wake-up. A
   * recovered endpoint is not flooded with its backlog, and a big one still drains in seconds:
   * 3,000 in about 35 s, not the 5 minutes of a fixed 10/s (docs/design.md §3.19).
   */
  heldReleaseBatch: 10,
  heldReleaseFirstPerSecond: 10,
  heldReleaseMaxPerSecond: 100,
  /** A held delivery's item is kept this long at most (SQS's longest retention, what a queue would give). */
  heldTtlDays: 14,
  /**
   * A disabled subscription's held deliveries wait for it to be enabled again, except those
   * published this long ago: they are released to be logged `skipped` (recoverable) before their
   * items' TTL removes them unlogged. Its wake-up looks every 15 minutes (SQS's longest delay).
   */
  heldSkipAfterDays: 13,
  /** ± fraction applied to each retry delay. */
  jitter: 0.2,
  /** Bounds within which a subscriber's Retry-After is honoured, in seconds. */
  retryAfterMinSeconds: 1,
  retryAfterMaxSeconds: 43_200,
  responseBodyLimitBytes: 4096,
  /**
   * Days an attempt log is kept. A week covers recover and replay after an outage; each day
   * of retention costs storage and point-in-time recovery on every log (docs/design.md §3.18:
   * at 30 days that was ~$1 per million deliveries). Longer is opt-in: the stack's
   * `attemptLogRetentionDays` (cdk context of the same name).
   */
  attemptLogTtlDays: 7,
  /**
   * An event's payload is stored once, by the fan-out, and kept this many days longer than the
   * attempt logs; attempts made within this many days of publishing refer to it instead of
   * keeping a copy (lambdas/core/stored-payload.ts). Five days cover the retry schedule (~28 h),
   * circuits and rate-limit backlogs with room; a later attempt (a DLQ redrive) keeps its own copy.
   */
  storedPayloadReferenceDays: 5,
  /** Dead-lettered deliveries in a row after which a subscription is disabled. */
  autoDisableAfterDead: 5,
  /** How long the operator.select hook may take before the default routing is used. */
  operatorSelectTimeoutMs: 5000,
} as const;

/** The delivery lanes: each a queue and a function with its own concurrency. */
export const DELIVERY_LANES = ['fast', 'slow'] as const;
export type DeliveryLane = (typeof DELIVERY_LANES)[number];

/**
 * How long a delivery queue keeps a message: 10 days, so its DLQ's 14 (SQS's longest) still
 * outlast it (a dead letter keeps its first enqueue time). Each wait is a new message, so only a
 * backlog not served for that long could lose one: a slow lane behind a flood (a message
 * forwarded there is not POSTed, so it has no attempt for `recover` to find) gets the most time
 * the queues allow, at no extra cost (retention is free).
 */
export const DELIVERY_RETENTION_SECONDS = 10 * 86_400;

/** Days every DLQ keeps a message: SQS's longest retention, so a dead letter waits as long as it can for a redrive. */
export const DLQ_RETENTION_DAYS = 14;

/**
 * Checks a retry schedule: whole seconds, at least 0. Waits longer than SQS's 15-minute delay
 * hop in steps, so there is no upper bound per delay.
 */
export function checkRetrySchedule(schedule: readonly number[]): void {
  for (const delay of schedule) {
    if (!Number.isInteger(delay) || delay < 0) throw new Error(`retry delays must be whole seconds of at least 0; got ${delay}`);
  }
}

/**
 * Each AWS SDK call's HTTP attempt in the functions: how long to connect and how long to wait for
 * the answer before the attempt fails as a TimeoutError and the SDK's standard retry (3 attempts)
 * sends it again. Without them a stalled socket held a call until the function itself timed out
 * (the SDK's only default is a 5–15 minute idle-socket timeout): a delivery batch then failed
 * whole and came back after the queue's visibility timeout. DynamoDB and SQS answer in
 * milliseconds; the local stack's emulators, on a saturated machine, in well under a second.
 *
 * Both timeouts run from the moment a call reaches the SDK's Node handler, including the time it
 * waits there for one of the client's 50 sockets (the handler's default `maxSockets`): a call
 * queued for a socket fails after 3 s unsent. So each client lets at most `callsAtOnce` calls
 * under way (`lambdas/adapters/calls-at-once.ts`); the others wait before the SDK's steps. 800
 * queries started together (a project history merging 100 subscriptions' log shards) queued 16
 * deep for a socket, and on a busy machine the last ones timed out without being sent (503).
 */
export const AWS_CALLS = { connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000, callsAtOnce: 40 } as const;
/** Alarm thresholds (lib/monitoring.ts). */
export const MONITORING = {
  /** A lane whose oldest message is older than this is falling behind. */
  oldestMessageAlarmSeconds: 300,
  /** Half of SQS's ~120,000 in-flight messages of a standard queue. */
  inFlightAlarm: 60_000,
} as const;

/**
 * Throttling of `POST /tiledesk/ingest`, sized for a Tiledesk installation rather than the
 * stage's default (50 requests/s): above it a busy installation's events get 429s, and
 * tiledesk-server retries a webhook only twice (docs/configuration.md: ingestThrottleRate).
 */
export const INGEST_THROTTLE = { rateLimit: 500, burstLimit: 1000 } as const;

/** The HTTP API stage's default throttling of every other route. */
export const API_THROTTLE = { rateLimit: 50, burstLimit: 100 } as const;

/**
 * Per-tenant request limits (lambdas/core/request-limit.ts), each a steady rate per second and
 * a burst, kept in the table so they hold across Lambda containers. Settings (`npm start`
 * variables; CDK context in camelCase): `PROJECT_API_LIMIT`, `PROJECT_EVENTS_LIMIT`,
 * `INGEST_SOURCE_LIMIT`, as `<rate>,<burst>`; `0` turns one off. The defaults sit below the
 * stage's own throttle (50/s, burst 100), so no single tenant can use it all up.
 */
export const REQUEST_LIMITS = {
  /** A project's calls to the subscription API (by the path's project, once the caller is allowed). */
  projectApi: { setting: 'PROJECT_API_LIMIT', context: 'projectApiLimit', defaults: { ratePerSecond: 10, burst: 40 } },
  /**
   * A project's published events: `POST /{projectId}/events` and Tiledesk ingest (by `id_project`).
   * Its operator.select calls have the same rate in a bucket of their own, however they come;
   * over it they get the default routing, never a 429 (DESIGN §6).
   */
  projectEvents: { setting: 'PROJECT_EVENTS_LIMIT', context: 'projectEventsLimit', defaults: { ratePerSecond: 25, burst: 100 } },
  /** Requests to `POST /tiledesk/ingest` per source address, verified or not. */
  ingestSource: { setting: 'INGEST_SOURCE_LIMIT', context: 'ingestSourceLimit', defaults: { ratePerSecond: 50, burst: 100 } },
} as const;

/** Subscription API defaults. */
export const API = {
  subscriptionLimitPerProject: 100,
  /**
   * Deleted subscriptions whose attempt logs stay in the project's history (until their TTL), the
   * most recently deleted; each costs a history page 8 partition queries, so they are capped.
   */
  deletedSubscriptionsInHistory: 100,
  logsPageSize: 50,
  logsPageSizeMax: 200,
} as const;

/**
 * The API token signing secret as the authorizer keeps it (docs/security.md, "Rotating the
 * token signing secret").
 */
export const JWT_SECRET_CACHE = {
  /** How long a container uses the secret it read before reading Secrets Manager again. */
  ttlSeconds: 300,
  /**
   * A token the cached secrets refuse makes the container read again, at most this often:
   * tokens signed with a secret just rotated in are accepted at once, everywhere.
   */
  minRefreshIntervalSeconds: 30,
  /**
   * After a rotation, tokens signed with the previous secret (stage AWSPREVIOUS) are accepted
   * this long, counted from the new version's creation; then only the current one verifies.
   */
  previousOverlapSeconds: 86_400,
} as const;

/**
 * The subscriptions function, and the test ping it sends while the client waits: the ping has
 * its own timeout (or the delivery timeout when that is shorter), well inside the function's,
 * so a slow target ends as a logged, timed-out attempt instead of a function timeout (a 5xx).
 */
export const SUBSCRIPTIONS_FUNCTION = {
  timeoutSeconds: 10,
  testPingTimeoutMs: 5000,
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
  'DELETE /{projectId}/subscriptions/{id}/health',
] as const;

/** The synchronous operator.select hook's route (its own function). */
export const OPERATOR_SELECT_ROUTE = 'POST /{projectId}/operator-select';

export type SubscriptionRoute = (typeof SUBSCRIPTION_ROUTES)[number];

/**
 * CORS of the API for the origins a deployment allows (`CORS_ORIGINS`; CDK context
 * `corsOrigins`), so Tiledesk's dashboard can call it from a browser. Shared by the deployed
 * HTTP API's `corsPreflight` and the local API server.
 */
export const CORS = {
  allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
  allowHeaders: ['authorization', 'content-type'],
  /**
   * Response headers a browser script may read: the new secret, the operator.select route taken,
   * and a 429's wait (`Retry-After` is not a CORS-safelisted header).
   */
  exposeHeaders: ['x-hook-secret', 'x-operator-select-path', 'x-operator-select-reason', 'retry-after'],
  maxAgeSeconds: 600,
} as const;

/** A comma-separated origin list (`https://a.example, https://b.example`) as a list. */
export const parseOrigins = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter((origin) => origin !== '');

/** Tiledesk's own webhook requests, from an unmodified tiledesk-server's global subscriptions (no API token). */
export const TILEDESK_INGEST_ROUTE = 'POST /tiledesk/ingest';

/** `POST /tiledesk/ingest` (DESIGN §7). */
export const TILEDESK_INGEST = {
  /**
   * Oldest `iat` accepted, in seconds (`INGEST_TOKEN_MAX_AGE_SECONDS`; context
   * `ingestTokenMaxAgeSeconds`): Tiledesk signs at send time, so minutes cover clock skew and
   * its own queueing while keeping a captured request's useful life short.
   */
  tokenMaxAgeSeconds: 300,
} as const;

/** Publishing over HTTPS for producers without AWS credentials (platform token). */
export const PUBLISH_EVENTS_ROUTE = 'POST /{projectId}/events';
/** Publishes a catalog event's example payload for the project (owner or admin): the console's "send an example event". */
export const PUBLISH_EXAMPLE_ROUTE = 'POST /{projectId}/events/example';

/** Payloads over EventBridge's 256 KB, stored aside in S3 until delivered (claim checks). */
export const CLAIM_CHECK = {
  /** A day more than the longest path that points at a stored payload ({@link claimCheckExpiryDays}). */
  expiryMarginDays: 1,
  /** Every object key starts with it; the functions' S3 grants are scoped to it. */
  keyPrefix: 'events/',
} as const;

/**
 * Days a claim-checked payload is kept: everything that points at it must still find it, and
 * its stages add up along the longest path: the event in the rule's or the fan-out's DLQ (14
 * days) until redriven, a delivery message in a lane queue (10 days), its retries (~28 h, 2
 * days), its dead letter in the delivery DLQ (14 days) until redriven, and the attempt logs of
 * that redrive (the logs' retention), from which `recover` reads it again:
 * 14 + 10 + 2 + 14 + retention + 1 = 48 days by default. Before 2026-12-05, the logs' 7 days
 * alone: a large event redriven in its DLQ's second week failed on every attempt. Objects are
 * only events over 256 KB (and the rare ones SQS cannot carry), so the longer keep costs little.
 */
export function claimCheckExpiryDays(attemptLogTtlDays: number = DELIVERY.attemptLogTtlDays): number {
  const retrySpanDays = 2;
  return DLQ_RETENTION_DAYS + DELIVERY_RETENTION_SECONDS / 86_400 + retrySpanDays + DLQ_RETENTION_DAYS + attemptLogTtlDays + CLAIM_CHECK.expiryMarginDays;
}

/** The OpenAPI document of the HTTP API; public (no token). */
export const OPENAPI_ROUTE = 'GET /openapi.json';

/**
 * The web console's page and its built assets; public: they are static files, and every call
 * the console makes carries the user's token. Assets sit in one flat folder (Vite's `assets/`).
 */
export const CONSOLE_ROUTES = ['GET /console', 'GET /console/assets/{file}'] as const;
