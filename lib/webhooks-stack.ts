import { RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DELIVERY } from '../lambdas/core/settings';
import { stackOutput } from './stack-output';
import { Delivery } from './delivery';
import { EventIngest, TiledeskIngestProps } from './event-ingest';
import { EventRouting, RULE_DLQ_REMEDY } from './event-routing';
import { Monitoring } from './monitoring';
import { SubscriptionApi, TiledeskSignInProps } from './subscription-api';
import { WebhooksTable } from './webhooks-table';
import { TRACING_CONTEXT } from './webhook-function';
import type { RequestLimit } from '../lambdas/core/request-limit';

/** Settings a deployment chooses, read from CDK context by `bin/app.ts`. */
export interface WebhooksStackProps extends StackProps {
  /** Accept `http://` targets. @default false */
  readonly allowHttpTargets?: boolean;
  /** CIDRs and host names exempt from the private-address refusal. @default '' */
  readonly targetAllowlist?: string;
  /** @default 100 */
  readonly subscriptionLimit?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /** Name of the bus to create. @default 'tiledesk' */
  readonly busName?: string;
  /** An existing bus (name or ARN) to subscribe to instead of creating one. */
  readonly existingBus?: string;
  /** Retry delays in seconds. @default 5, 300, 1800, 7200, 18000, 36000, 36000 */
  readonly retrySchedule?: readonly number[];
  /** Per-attempt delivery timeout. @default 10000 */
  readonly deliveryTimeoutMs?: number;
  /** Days attempt logs are kept (recover, replay, logs, history). @default 7 */
  readonly attemptLogRetentionDays?: number;
  /** How long the operator.select hook may take. @default 5000 */
  readonly operatorSelectTimeoutMs?: number;
  /** How long a test ping waits for its target, at most 7000 (the API function's 10 s less logging). @default 5000 */
  readonly testPingTimeoutMs?: number;
  /** SNS topic notified when a DLQ alarm fires. @default none */
  readonly alarmTopicArn?: string;
  /** API stage throttling. @default burst 100, rate 50 requests/s */
  readonly apiThrottle?: { burstLimit?: number; rateLimit?: number };
  /** Throttling of `POST /tiledesk/ingest`. @default burst 1,000, rate 500 requests/s */
  readonly ingestThrottle?: { burstLimit?: number; rateLimit?: number };
  /** Dead deliveries in a row that disable a subscription. @default 5 */
  readonly autoDisableAfterDead?: number;
  /**
   * An open circuit's first cool-down, in seconds, doubled at each failed probe up to 30
   * minutes. @default 30
   */
  readonly circuitCooldownSeconds?: number;
  /** An identity provider's JWKS (`https://`): RS256 tokens are then accepted too. @default HS256 only */
  readonly jwksUrl?: string;
  /** `iss` required of every API token (HS256 and RS256). @default not checked */
  readonly jwtIssuer?: string;
  /** `aud` value required of every API token (HS256 and RS256). @default not checked */
  readonly jwtAudience?: string;
  /** Each project's share of the subscription API. @default 10/s, burst 40 */
  readonly projectApiLimit?: RequestLimit;
  /** Each project's published events (ingest and `POST /{projectId}/events`). @default 25/s, burst 100 */
  readonly projectEventsLimit?: RequestLimit;
  /** Ingest requests per source address. @default 50/s, burst 100 */
  readonly ingestSourceLimit?: RequestLimit;
  /** Tiledesk user tokens accepted, roles asked of Tiledesk. @default off */
  readonly tiledeskSignIn?: TiledeskSignInProps;
  /** How `POST /tiledesk/ingest` recognises an unmodified tiledesk-server. @default every request refused */
  readonly tiledeskIngest?: TiledeskIngestProps;
  /** Browser origins allowed by the API's CORS. @default none */
  readonly corsOrigins?: readonly string[];
  /** X-Ray tracing of every function, with Powertools Tracer. @default false */
  readonly tracing?: boolean;
  /**
   * The `origin` header of every webhook, as Tiledesk's WEBHOOK_ORIGIN setting: receivers
   * written for Tiledesk may check it. @default the API's URL
   */
  readonly webhookOrigin?: string;
}

/** The whole service: table, subscription API, event routing and delivery (DESIGN §1). */
export class WebhooksStack extends Stack {
  constructor(scope: Construct, id: string, props: WebhooksStackProps = {}) {
    super(scope, id, props);
    const retention = props.attemptLogRetentionDays;
    if (retention !== undefined && !(Number.isInteger(retention) && retention >= 1)) {
      throw new Error(`attemptLogRetentionDays must be a whole number of days, at least 1; got ${retention}`);
    }
    const cooldown = props.circuitCooldownSeconds;
    if (cooldown !== undefined && !(Number.isInteger(cooldown) && cooldown >= 1 && cooldown <= DELIVERY.circuitMaxCooldownSeconds)) {
      throw new Error(`circuitCooldownSeconds must be a whole number of seconds, 1–${DELIVERY.circuitMaxCooldownSeconds}; got ${cooldown}`);
    }
    // Read by every WebhookFunction; set before any of them exists.
    this.node.setContext(TRACING_CONTEXT, props.tracing === true);
    const { table } = new WebhooksTable(this, 'Store', { removalPolicy: props.tableRemovalPolicy });
    const delivery = new Delivery(this, 'Delivery', {
      table,
      retrySchedule: props.retrySchedule,
      timeoutMs: props.deliveryTimeoutMs,
      targetAllowlist: props.targetAllowlist,
      autoDisableAfterDead: props.autoDisableAfterDead,
      circuitCooldownSeconds: props.circuitCooldownSeconds,
      attemptLogTtlDays: props.attemptLogRetentionDays,
    });
    const api = new SubscriptionApi(this, 'Api', {
      table,
      deliveryQueue: delivery.queue,
      deliveryTimeoutMs: props.deliveryTimeoutMs,
      operatorSelectTimeoutMs: props.operatorSelectTimeoutMs,
      testPingTimeoutMs: props.testPingTimeoutMs,
      allowHttpTargets: props.allowHttpTargets,
      targetAllowlist: props.targetAllowlist,
      subscriptionLimit: props.subscriptionLimit,
      throttle: props.apiThrottle,
      projectApiLimit: props.projectApiLimit,
      projectEventsLimit: props.projectEventsLimit,
      jwksUrl: props.jwksUrl,
      jwtIssuer: props.jwtIssuer,
      jwtAudience: props.jwtAudience,
      tiledeskSignIn: props.tiledeskSignIn,
      corsOrigins: props.corsOrigins,
    });
    // Every function that POSTs webhooks sends this origin; the API's URL is known once the API exists.
    const webhookOrigin = props.webhookOrigin ?? api.httpApi.apiEndpoint;
    for (const sender of [delivery.deliveryFunction, delivery.slowDeliveryFunction, api.apiFunction, api.operatorSelectFunction]) {
      sender.function.addEnvironment('WEBHOOK_ORIGIN', webhookOrigin);
    }
    // The API (test pings) and operator.select log attempts too, kept as long as the deliveries'.
    for (const logger of [api.apiFunction, api.operatorSelectFunction]) {
      logger.function.addEnvironment('ATTEMPT_LOG_TTL_DAYS', String(props.attemptLogRetentionDays ?? DELIVERY.attemptLogTtlDays));
    }
    const events = new EventRouting(this, 'Events', {
      table,
      deliveryQueue: delivery.queue,
      busName: props.busName,
      existingBus: props.existingBus,
    });
    const ingest = new EventIngest(this, 'Ingest', {
      httpApi: api.httpApi,
      table,
      bus: events.bus,
      busReference: events.busReference,
      payloadReaders: [delivery.deliveryFunction, delivery.slowDeliveryFunction],
      tiledesk: props.tiledeskIngest,
      targetAllowlist: props.targetAllowlist,
      ingestThrottle: props.ingestThrottle,
      projectEventsLimit: props.projectEventsLimit,
      ingestSourceLimit: props.ingestSourceLimit,
      attemptLogTtlDays: props.attemptLogRetentionDays,
      operatorSelectTimeoutMs: props.operatorSelectTimeoutMs,
    });
    // The fan-out stores each event's payload once, kept a few days longer than the attempts referring to it.
    events.fanOutFunction.function.addEnvironment('ATTEMPT_LOG_TTL_DAYS', String(props.attemptLogRetentionDays ?? DELIVERY.attemptLogTtlDays));
    // The fan-out refuses claim checks naming any other bucket (or another project's keys) as malformed.
    events.fanOutFunction.function.addEnvironment('CLAIM_CHECK_BUCKET', ingest.claimCheckBucket.bucketName);
    // It POSTs operator.select hooks for Tiledesk's ingest.
    ingest.ingestFunction.function.addEnvironment('WEBHOOK_ORIGIN', webhookOrigin);
    new Monitoring(this, 'Monitoring', {
      deadLetterQueues: {
        Delivery: delivery.dlq,
        FanOut: events.fanOutDlq,
        EventRule: { queue: events.ruleDlq, remedy: RULE_DLQ_REMEDY },
      },
      workQueues: { FastLane: delivery.queue, SlowLane: delivery.slowQueue, FanOut: events.fanOutQueue },
      functions: {
        Authorizer: api.authorizerFunction.function,
        Subscriptions: api.apiFunction.function,
        OperatorSelect: api.operatorSelectFunction.function,
        FanOut: events.fanOutFunction.function,
        FastLane: delivery.deliveryFunction.function,
        SlowLane: delivery.slowDeliveryFunction.function,
        IngestApi: ingest.ingestFunction.function,
        PublicContent: api.publicContentFunction.function,
      },
      httpApi: api.httpApi,
      table,
      alarmTopicArn: props.alarmTopicArn,
    });
    stackOutput(this, 'TableName', table.tableName);
  }
}
