import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CLAIM_CHECK,
  PUBLISH_EVENTS_ROUTE,
  TILEDESK_INGEST_ROUTE,
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  DELIVERY,
  DeliveryLane,
  EVENT_RULE_PATTERN,
  FAN_OUT,
  CONSOLE_ROUTES,
  LOCAL_NAMES,
  OPENAPI_ROUTE,
  OPERATOR_SELECT_ROUTE,
  SUBSCRIPTION_ROUTES,
  SUBSCRIPTIONS_FUNCTION,
  TABLE_KEYS,
  DELIVERY_RETENTION_SECONDS,
  checkRetrySchedule,
} from '../lambdas/core/settings';
import { operatorSelectFunctionTimeoutSeconds } from '../lib/timeout-budget';
import { CONSOLE_BUILD_DIR } from '../lib/console-build';
import { AwsEndpoint, LocalActionHandler, closeServer, listen, startAwsEndpoint } from './aws-endpoint';
import { ApiServer, startApiServer } from './api-server';
import { LocalRule, localEventBus } from './event-bus';
import { MoveQueue, localMessageMoves } from './message-move';
import { startEmulatorProcess } from './emulator-process';
import { SqsEventSource, startSqsEventSource } from './sqs-event-source';

/** Options of the local stack; each has an environment variable in `bin/local.ts`. */
export interface LocalStackOptions {
  /** API port; 0 picks a free one. @default 3000 */
  port?: number;
  /** Local AWS endpoint port; 0 picks a free one. @default 4566 */
  awsPort?: number;
  /** API token signing secret. */
  jwtSecret: string;
  /** Keep DynamoDB data in this folder across restarts. @default in memory */
  dataDir?: string;
  /** Retry delays in seconds after the first attempt. @default DESIGN §4 schedule */
  retrySchedule?: readonly number[];
  /** Delivery timeout. @default 10 s */
  deliveryTimeoutMs?: number;
  /** How long the operator.select hook may take. @default 5 s */
  operatorSelectTimeoutMs?: number;
  /** Dead deliveries in a row that disable a subscription. @default 5 */
  autoDisableAfterDead?: number;
  /** Targets exempt from the private-address refusal. @default loopback */
  targetAllowlist?: string;
  /** The `origin` header of webhooks (Tiledesk's WEBHOOK_ORIGIN). @default the local API's URL */
  webhookOrigin?: string;
  /**
   * Delivery queue visibility timeout: how long a batch whose invocation threw stays hidden.
   * @default 360 s, as deployed; the reliability run shortens it.
   */
  deliveryVisibilityTimeoutSeconds?: number;
  /** Pollers per queue (Lambda concurrency). */
  fanOutConcurrency?: number;
  deliveryConcurrency?: number;
  slowDeliveryConcurrency?: number;
  /** Browser origins allowed by CORS (`CORS_ORIGINS`). @default none */
  corsOrigins?: readonly string[];
  /**
   * More function environment, as a deployment's settings give it (e.g. `TILEDESK_API_URL`,
   * `TILEDESK_JWT_SECRET`); set before the handlers load. @default none
   */
  environment?: Record<string, string>;
  /** Receives errors of the in-process event sources. */
  onError?: (error: unknown) => void;
  /** Counts requests at the AWS endpoint. */
  onAwsRequest?: (service: string, action: string) => void;
}

/** Queue URLs and ARNs of the local pipeline. */
export interface LocalQueues {
  fanOut: QueueRef;
  fanOutDlq: QueueRef;
  /** The fast lane's delivery queue. */
  delivery: QueueRef;
  slowDelivery: QueueRef;
  deliveryDlq: QueueRef;
  /** The event rule's DLQ (`npm run replay-rule-dlq`). */
  ruleDlq: QueueRef;
}

export interface QueueRef {
  url: string;
  arn: string;
}

export interface LocalStack {
  apiUrl: string;
  awsEndpoint: string;
  busName: string;
  tableName: string;
  queues: LocalQueues;
  /**
   * Stops polling the queues and waits for the invocations in flight to finish; the API and
   * the emulators keep running. Part of `stop()`.
   */
  stopEventSources(): Promise<void>;
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

/** Loopback only: the local stack's receivers live there. */
export const LOCAL_TARGET_ALLOWLIST = '127.0.0.0/8,::1,localhost';

/**
 * Starts the deployed topology in one process: dynalite and fauxqs behind one AWS endpoint,
 * the local EventBridge, the SQS event sources with Lambda semantics, and the HTTP API — all
 * running the very handler modules the CDK stack deploys, configured through the same
 * environment variables.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const [dynamo, fauxqs] = await Promise.all([
      startEmulatorProcess('dynalite', 'dynalite-server.mjs', { DYNALITE_OPTIONS: JSON.stringify(dynaliteOptions(options.dataDir)) }),
      startEmulatorProcess('fauxqs', 'fauxqs-server.mjs', { FAUXQS_PORT: '0', FAUXQS_DATA_DIR: sqsDataDir(options.dataDir) }),
    ]);
    cleanups.push(() => dynamo.stop(), () => fauxqs.stop());

    const endpointHolder: { sqs?: SQSClient; queues?: LocalQueues } = {};
    let eventBus: LocalActionHandler | undefined;
    const rules: LocalRule[] = [];
    const endpoint: AwsEndpoint = await startAwsEndpoint({
      port: options.awsPort ?? 4566,
      dynamoDbUrl: dynamo.address,
      sqsUrl: fauxqs.address,
      s3Url: fauxqs.address,
      sqsExtensions: localMessageMoves(
        () => endpointHolder.sqs!,
        () => (endpointHolder.queues ? moveQueues(endpointHolder.queues) : []),
      ),
      // Built on first use (the SQS client exists only once the endpoint is up), then reused.
      events: (action, body) =>
        (eventBus ??= localEventBus({ busName: LOCAL_NAMES.bus, region: REGION, account: ACCOUNT, rules, sqs: endpointHolder.sqs! }))(
          action,
          body,
        ),
      onRequest: options.onAwsRequest,
    });
    cleanups.push(() => endpoint.stop());

    const retrySchedule = options.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
    checkRetrySchedule(retrySchedule);
    // The API's URL is the webhooks' default origin, and handlers read it at import, before
    // the API listens: a free port is chosen first.
    const apiPort = options.port === 0 ? await freePort() : (options.port ?? 3000);
    setFunctionEnvironment(endpoint.url, options, retrySchedule, `http://127.0.0.1:${apiPort}`);
    const sqs = new SQSClient({});
    endpointHolder.sqs = sqs;
    await createTable(new DynamoDBClient({}));
    await new S3Client({}).send(new CreateBucketCommand({ Bucket: CLAIM_CHECK.localBucket }));
    const queues = await createQueues(sqs, options.deliveryVisibilityTimeoutSeconds);
    endpointHolder.queues = queues;
    rules.push({
      name: LOCAL_NAMES.rule,
      pattern: EVENT_RULE_PATTERN,
      queueUrl: queues.fanOut.url,
      queueArn: queues.fanOut.arn,
      deadLetterQueueUrl: queues.ruleDlq.url,
      messageGroupId: FAN_OUT.messageGroupIdPath,
    });
    process.env.DELIVERY_QUEUE_URL = queues.delivery.url;
    process.env.SLOW_DELIVERY_QUEUE_URL = queues.slowDelivery.url;
    process.env.DELIVERY_DLQ_URL = queues.deliveryDlq.url;
    process.env.FAN_OUT_QUEUE_URL = queues.fanOut.url;

    // Handlers read their configuration at import, so they load only once it is set.
    const [authorizer, subscriptionsApi, operatorSelect, ingestApi, publicContent] = await Promise.all([
      import('../lambdas/handlers/authorizer'),
      import('../lambdas/handlers/subscriptions-api'),
      import('../lambdas/handlers/operator-select'),
      import('../lambdas/handlers/ingest-api'),
      import('../lambdas/handlers/public-content'),
    ]);
    const api: ApiServer = await startApiServer({
      port: apiPort,
      authorizer: authorizer.handler,
      maxBodyBytes: 1024 * 1024,
      corsOrigins: options.corsOrigins,
      routes: [
        ...SUBSCRIPTION_ROUTES.map((routeKey) => ({
          routeKey,
          functionName: 'subscriptions-api',
          handler: subscriptionsApi.handler,
          timeoutSeconds: SUBSCRIPTIONS_FUNCTION.timeoutSeconds,
        })),
        {
          routeKey: OPERATOR_SELECT_ROUTE,
          functionName: 'operator-select',
          handler: operatorSelect.handler,
          timeoutSeconds: operatorSelectFunctionTimeoutSeconds(options.operatorSelectTimeoutMs ?? DELIVERY.operatorSelectTimeoutMs),
        },
        {
          routeKey: TILEDESK_INGEST_ROUTE,
          functionName: 'ingest-api',
          handler: ingestApi.handler,
          // Tiledesk's operator.select waits on the same hook as the operator.select function.
          timeoutSeconds: operatorSelectFunctionTimeoutSeconds(options.operatorSelectTimeoutMs ?? DELIVERY.operatorSelectTimeoutMs),
        },
        { routeKey: PUBLISH_EVENTS_ROUTE, functionName: 'ingest-api', handler: ingestApi.handler },
        ...[OPENAPI_ROUTE, ...CONSOLE_ROUTES].map((routeKey) => ({
          routeKey,
          functionName: 'public-content',
          handler: publicContent.handler,
          public: true,
        })),
      ],
    });
    cleanups.push(() => api.stop());

    const sources = await startEventSources(sqs, queues, options);
    const stopEventSources = async (): Promise<void> => {
      await Promise.all(sources.map((source) => source.stop()));
    };
    cleanups.push(stopEventSources);

    return {
      apiUrl: api.url,
      awsEndpoint: endpoint.url,
      busName: LOCAL_NAMES.bus,
      tableName: LOCAL_NAMES.table,
      queues,
      stopEventSources,
      stop: () => runCleanups(cleanups),
    };
  } catch (error) {
    await runCleanups(cleanups);
    throw error;
  }
}

async function runCleanups(cleanups: (() => Promise<void>)[]): Promise<void> {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups.length = 0;
}

/** Where fauxqs keeps queues, messages and objects under DATA_DIR ('' keeps them in memory). */
function sqsDataDir(dataDir: string | undefined): string {
  if (!dataDir) return '';
  const sqsDir = path.resolve(dataDir, 'sqs');
  mkdirSync(sqsDir, { recursive: true });
  return sqsDir;
}

function dynaliteOptions(dataDir: string | undefined): Record<string, unknown> {
  const options: Record<string, unknown> = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };
  if (dataDir) {
    const dynamoDir = path.resolve(dataDir, 'dynamodb');
    mkdirSync(dynamoDir, { recursive: true });
    options.path = dynamoDir;
  }
  return options;
}

/** The environment each deployed function gets, set once for the in-process handlers. */
function setFunctionEnvironment(
  endpointUrl: string,
  options: LocalStackOptions,
  retrySchedule: readonly number[],
  apiUrl: string,
): void {
  const env = process.env;
  env.AWS_ENDPOINT_URL = endpointUrl;
  env.AWS_REGION = REGION;
  env.AWS_ACCESS_KEY_ID ??= 'local';
  env.AWS_SECRET_ACCESS_KEY ??= 'local';
  env.TABLE_NAME = LOCAL_NAMES.table;
  env.JWT_SECRET = options.jwtSecret;
  env.ALLOW_HTTP_TARGETS = 'true';
  env.TARGET_ALLOWLIST = options.targetAllowlist ?? LOCAL_TARGET_ALLOWLIST;
  env.RETRY_SCHEDULE = retrySchedule.join(',');
  env.DELIVERY_TIMEOUT_MS = String(options.deliveryTimeoutMs ?? DELIVERY.timeoutMs);
  env.OPERATOR_SELECT_TIMEOUT_MS = String(options.operatorSelectTimeoutMs ?? DELIVERY.operatorSelectTimeoutMs);
  env.AUTO_DISABLE_AFTER_DEAD = String(options.autoDisableAfterDead ?? DELIVERY.autoDisableAfterDead);
  env.POWERTOOLS_TRACE_ENABLED = 'false';
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  env.POWERTOOLS_SERVICE_NAME = 'tiledesk-webhooks';
  env.WEBHOOK_ORIGIN = options.webhookOrigin ?? apiUrl;
  env.EVENT_BUS_NAME = LOCAL_NAMES.bus;
  env.CLAIM_CHECK_BUCKET = CLAIM_CHECK.localBucket;
  env.CONSOLE_DIR = CONSOLE_BUILD_DIR;
  Object.assign(env, options.environment);
}

/** A port free on loopback now, for a server that must know its URL before it listens. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await listen(probe, 0);
  const { port } = probe.address() as AddressInfo;
  await closeServer(probe);
  return port;
}

/** Creates the table exactly as `lib/webhooks-table.ts` declares it. */
async function createTable(client: DynamoDBClient): Promise<void> {
  const { partitionKey, sortKey, topicIndex, historyIndex } = TABLE_KEYS;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: LOCAL_NAMES.table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [partitionKey, sortKey, topicIndex.partitionKey, topicIndex.sortKey, historyIndex.partitionKey, historyIndex.sortKey].map(
          (name) => ({ AttributeName: name, AttributeType: 'S' }),
        ),
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: topicIndex.name,
            KeySchema: [
              { AttributeName: topicIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: topicIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: topicIndex.projection },
          },
          {
            IndexName: historyIndex.name,
            KeySchema: [
              { AttributeName: historyIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: historyIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: historyIndex.projection },
          },
        ],
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
}

/** Creates the queues with the visibility and redrive the CDK constructs give them. */
async function createQueues(
  sqs: SQSClient,
  deliveryVisibilityTimeoutSeconds: number = DELIVERY.visibilityTimeoutSeconds,
): Promise<LocalQueues> {
  const create = async (name: string, attributes: Record<string, string> = {}): Promise<QueueRef> => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
  };
  const fanOutDlq = await create(LOCAL_NAMES.fanOutDlq);
  const deliveryDlq = await create(LOCAL_NAMES.deliveryDlq);
  const fanOut = await create(LOCAL_NAMES.fanOutQueue, {
    VisibilityTimeout: String(FAN_OUT.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: fanOutDlq.arn, maxReceiveCount: FAN_OUT.maxReceiveCount }),
  });
  const lane = (name: string) =>
    create(name, {
      VisibilityTimeout: String(deliveryVisibilityTimeoutSeconds),
      MessageRetentionPeriod: String(DELIVERY_RETENTION_SECONDS),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deliveryDlq.arn, maxReceiveCount: DELIVERY.poisonReceiveCount }),
    });
  const delivery = await lane(LOCAL_NAMES.deliveryQueue);
  const slowDelivery = await lane(LOCAL_NAMES.slowDeliveryQueue);
  const ruleDlq = await create(LOCAL_NAMES.ruleDlq);
  return { fanOut, fanOutDlq, delivery, slowDelivery, deliveryDlq, ruleDlq };
}

/** The queues a message move task may use, each DLQ pointing back at its source. */
function moveQueues(queues: LocalQueues): MoveQueue[] {
  return [
    { ...queues.fanOut },
    { ...queues.delivery },
    { ...queues.slowDelivery },
    { ...queues.fanOutDlq, redrivesTo: queues.fanOut.arn },
    { ...queues.deliveryDlq, redrivesTo: queues.delivery.arn },
  ];
}

/**
 * The SQS event source mappings, with the deployed batch settings. Both delivery queues are
 * fair queues on AWS (the project is each message's group); fauxqs does not emulate that, so
 * the local event sources share out each receive among tenants themselves. The fan-out queue
 * gets the same treatment locally, with the event's project as its tenant.
 */
async function startEventSources(
  sqs: SQSClient,
  queues: LocalQueues,
  options: LocalStackOptions,
): Promise<SqsEventSource[]> {
  const [fanOut, delivery] = await Promise.all([
    import('../lambdas/handlers/fan-out'),
    import('../lambdas/handlers/delivery'),
  ]);
  const common = { sqs, region: REGION, onError: options.onError };
  const deliveryLane = (lane: DeliveryLane, queue: QueueRef, concurrency: number) =>
    startSqsEventSource({
      ...common,
      queueUrl: queue.url,
      queueArn: queue.arn,
      functionName: lane === 'fast' ? 'delivery' : 'delivery-slow',
      handler: delivery.handlerFor(lane),
      batchSize: DELIVERY.batchSize,
      maxBatchingWindowSeconds: DELIVERY.maxBatchingWindowSeconds,
      concurrency,
      functionTimeoutSeconds: DELIVERY.functionTimeoutSeconds,
      visibilityTimeoutSeconds: options.deliveryVisibilityTimeoutSeconds ?? DELIVERY.visibilityTimeoutSeconds,
      tenantOf: (body) => jsonField(body, ['projectId']),
    });
  return [
    startSqsEventSource({
      ...common,
      queueUrl: queues.fanOut.url,
      queueArn: queues.fanOut.arn,
      functionName: 'fan-out',
      handler: fanOut.handler,
      batchSize: FAN_OUT.batchSize,
      maxBatchingWindowSeconds: FAN_OUT.maxBatchingWindowSeconds,
      concurrency: options.fanOutConcurrency ?? 2,
      functionTimeoutSeconds: FAN_OUT.functionTimeoutSeconds,
      visibilityTimeoutSeconds: FAN_OUT.visibilityTimeoutSeconds,
      tenantOf: (body) => jsonField(body, ['detail', 'id_project']),
    }),
    deliveryLane('fast', queues.delivery, options.deliveryConcurrency ?? 4),
    // Slow-lane invocations mostly wait on answers: 10 pollers keep 30 subscribers answering in
    // 3 s at 1/s each up (10 × 10 / 3 s ≈ 33/s) on 2 cores; AWS runs 50 (docs/design.md §3.2).
    deliveryLane('slow', queues.slowDelivery, options.slowDeliveryConcurrency ?? 10),
  ];
}

/** A string field of a JSON message body, or '' when the body or the field is not there. */
function jsonField(body: string, path: string[]): string {
  try {
    let value: unknown = JSON.parse(body);
    for (const name of path) value = (value as Record<string, unknown> | null)?.[name];
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}
