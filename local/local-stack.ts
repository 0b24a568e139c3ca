import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import type { WebhooksStackProps } from '../lib/webhooks-stack';
import { CONSOLE_BUILD_DIR } from '../lib/console-build';
import { AwsEndpoint, AwsRequestDetail, LocalActionHandler, closeServer, listen, startAwsEndpoint } from './aws-endpoint';
import { ApiServer, LocalRoute, startApiServer } from './api-server';
import type { Context } from 'aws-lambda';
import type { BillingMeter } from './billing-meter';
import { LocalRule, localEventBus } from './event-bus';
import { localMessageMoves } from './message-move';
import { describeLocalLambdaLimits, localLambdaLimits } from './lambda-concurrency';
import { InvocationTrace, LambdaThrottledError, SqsEventSource } from './sqs-event-source';
import { DELIVERY } from '../lambdas/core/settings';
import type { RequestLimit } from '../lambdas/core/request-limit';
import { startEmulatorProcess } from './emulator-process';
import { asFunction } from './iam/function-credentials';
import { startFunctionThread } from './runtime/function-thread';
import { localPermissions } from './iam/local-permissions';
import { resolveValue } from './template/intrinsics';
import { FunctionModel, StackModel, TemplateModelError, readStackModel } from './template/stack-model';
import { cachedTemplate } from './template/template-cache';
import { loadHandler, sharedEnvironment } from './runtime/function-runtime';
import { AwsSideSqs, awsSideSqs } from './runtime/aws-side-sqs';
import { awsSideSqsClient, startEventSources } from './runtime/event-source-mappings';
import { LocalPlace, QueueRef, bucketName, createBuckets, localResourceName, createQueues, createTables, localNames, localResourceValues, physicalName } from './runtime/local-resources';
import { localFunctionIds } from './iam/template-functions';

export type { QueueRef } from './runtime/local-resources';

/**
 * Options of the local stack. Those the deployed stack has as props are given to the synthesized
 * app, so the template stays the one source; the others are local (ports, data, the secret's
 * value, the bench's concurrency, a shorter delivery visibility for the reliability run).
 */
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
  /** How long a test ping waits for its target, as the `testPingTimeoutMs` stack prop. @default 5 s */
  testPingTimeoutMs?: number;
  /** Oldest Tiledesk ingest token accepted, in seconds (`tiledeskIngest.tokenMaxAgeSeconds`). @default 300 */
  ingestTokenMaxAgeSeconds?: number;
  /** Per-tenant request limits, as the stack props of the same names. @default the stack's */
  projectApiLimit?: RequestLimit;
  projectEventsLimit?: RequestLimit;
  ingestSourceLimit?: RequestLimit;
  /** Dead deliveries in a row that disable a subscription. @default 5 */
  autoDisableAfterDead?: number;
  /** An open circuit's first cool-down, as the `circuitCooldownSeconds` stack prop. @default 30 */
  circuitCooldownSeconds?: number;
  /** Subscriptions a project may have, as the `subscriptionLimit` stack prop. @default 100 */
  subscriptionLimit?: number;
  /** Targets exempt from the private-address refusal. @default loopback */
  targetAllowlist?: string;
  /** The `origin` header of webhooks (Tiledesk's WEBHOOK_ORIGIN). @default the local API's URL */
  webhookOrigin?: string;
  /**
   * Delivery queue visibility timeout: how long a batch whose invocation threw stays hidden.
   * @default 360 s, as deployed; the reliability run shortens it.
   */
  deliveryVisibilityTimeoutSeconds?: number;
  /**
   * Delivery function timeout. Lambda refuses an SQS event source whose queue visibility timeout
   * is shorter, so a shorter visibility needs this too. @default 60 s, as deployed
   */
  deliveryFunctionTimeoutSeconds?: number;
  /**
   * Maximum concurrency of each event source, in place of the template's (its maximum
   * concurrency, else the function's reserved concurrency): the bench's knob.
   */
  fanOutConcurrency?: number;
  deliveryConcurrency?: number;
  slowDeliveryConcurrency?: number;
  /** API stage throttling, as the `apiThrottle` stack prop. @default burst 100, rate 50 requests/s */
  apiThrottle?: { burstLimit?: number; rateLimit?: number };
  /** `POST /tiledesk/ingest` throttling, as the `ingestThrottle` stack prop. @default burst 1,000, rate 500 requests/s */
  ingestThrottle?: { burstLimit?: number; rateLimit?: number };
  /** Browser origins allowed by CORS (`CORS_ORIGINS`). @default none */
  corsOrigins?: readonly string[];
  /**
   * More function environment, as a deployment's settings give it (e.g. `TILEDESK_API_URL`,
   * `TILEDESK_JWT_SECRET`); set before the handlers load. @default none
   */
  environment?: Record<string, string>;
  /**
   * Factor applied to AWS's Lambda concurrency numbers a 2-core machine cannot run (account
   * concurrency, an event source's most batches). @default 0.1
   */
  lambdaConcurrencyScale?: number;
  /**
   * Run the SQS-driven functions (fan-out, both delivery lanes) in a worker thread of their own,
   * as Lambda gives each invocation a CPU of its own, rather than on the event loop of the local
   * endpoint, the API and the pollers. Tests that swap a handler's dependencies in their own
   * process (`deliveryDeps`, `fanOutDeps`) or spy on its console or DNS turn it off.
   * @default true
   */
  functionThread?: boolean;
  /**
   * Share of SQS receives that leave a copy of the message behind, received again later (SQS
   * standard queues deliver at least once: docs/design.md §3.14). Not with `dataDir`. @default 0
   */
  sqsDuplicateRate?: number;
  /** Receives errors of the in-process event sources. */
  onError?: (error: unknown) => void;
  /** Told when an event source lets a batch go because its function stayed throttled. */
  onThrottle?: (throttle: LambdaThrottledError) => void;
  /** Told of every SQS-driven invocation when it ends: its records and clock (the benches' stage traces). */
  onInvocation?: (invocation: InvocationTrace) => void;
  /** Counts billed units: AWS requests, function invocations' time, API requests (`npm run bench`). */
  meter?: BillingMeter;
  /** Counts requests at the AWS endpoint: who called, and whether a `ReceiveMessage` returned nothing. */
  onAwsRequest?: (service: string, action: string, detail: AwsRequestDetail) => void;
}

/** Queue URLs and ARNs of the local pipeline, by the stack output that names each. */
export interface LocalQueues {
  /** `FanOutQueueUrl` */
  fanOut: QueueRef;
  /** `FanOutDlqUrl` */
  fanOutDlq: QueueRef;
  /** The fast lane's delivery queue (`DeliveryQueueUrl`). */
  delivery: QueueRef;
  /** `SlowDeliveryQueueUrl` */
  slowDelivery: QueueRef;
  /** `DeliveryDlqUrl` */
  deliveryDlq: QueueRef;
  /** The event rule's DLQ (`EventRuleDlqUrl`, `npm run replay-rule-dlq`). */
  ruleDlq: QueueRef;
}

/** Which stack output names each of {@link LocalQueues}. */
const QUEUE_OUTPUTS: Record<keyof LocalQueues, string> = {
  fanOut: 'FanOutQueueUrl',
  fanOutDlq: 'FanOutDlqUrl',
  delivery: 'DeliveryQueueUrl',
  slowDelivery: 'SlowDeliveryQueueUrl',
  deliveryDlq: 'DeliveryDlqUrl',
  ruleDlq: 'EventRuleDlqUrl',
};

export interface LocalStack {
  apiUrl: string;
  awsEndpoint: string;
  busName: string;
  tableName: string;
  /** The claim-check bucket (`ClaimCheckBucketName`). */
  claimCheckBucket: string;
  queues: LocalQueues;
  /** The stack's outputs, as `cdk deploy` prints them, with the local names, URLs and ARNs. */
  outputs: Record<string, string>;
  /** The Lambda concurrency numbers in force, for the start-up banner. */
  lambdaLimits: string;
  /**
   * Stops polling the queues and waits for the invocations in flight to finish; the API and
   * the emulators keep running. Part of `stop()`.
   */
  stopEventSources(): Promise<void>;
  stop(): Promise<void>;
}

/** The account and region the local stack pretends to be, and the stack's name. */
const WHERE = { region: 'us-east-1', account: '000000000000', stackName: 'TiledeskWebhooks' } as const;

/** Loopback only: the local stack's receivers live there. */
export const LOCAL_TARGET_ALLOWLIST = '127.0.0.0/8,::1,localhost';

/**
 * Starts what `cdk deploy` creates, in one process, built from the synthesized template
 * (DESIGN §8): dynalite and fauxqs behind one AWS endpoint with the template's table, queues and
 * bucket; the local EventBridge with its rules and targets; the SQS event sources with their
 * mappings' settings; the HTTP API with its routes, authorizer and throttling — all running
 * the very handler modules the template's functions name, with their environment.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  checkDeliveryTimeouts(options);
  checkDuplicateRate(options);
  const template = await cachedTemplate(stackProps(options), WHERE.stackName);
  const model = readStackModel(template);
  const place: LocalPlace = { ...WHERE, names: localNames(template, WHERE.stackName) };
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const [dynamo, fauxqs] = await Promise.all([
      startEmulatorProcess('dynalite', 'dynalite-server.mjs', { DYNALITE_OPTIONS: JSON.stringify(dynaliteOptions(options.dataDir)) }),
      startEmulatorProcess('fauxqs', 'fauxqs-server.mjs', {
        FAUXQS_PORT: '0',
        FAUXQS_DATA_DIR: sqsDataDir(options.dataDir),
        FAUXQS_DUPLICATE_RATE: String(options.sqsDuplicateRate ?? 0),
      }),
    ]);
    cleanups.push(() => dynamo.stop(), () => fauxqs.stop());

    const late: { sqs?: SQSClient; awsSide?: AwsSideSqs; busName?: string } = {};
    let eventBus: LocalActionHandler | undefined;
    const rules: LocalRule[] = [];
    // Each function calls AWS as its logical id, under its role's policies from the template;
    // EventBridge sends to a queue only if its queue policy allows it.
    const permissions = localPermissions(template, {
      region: place.region,
      account: place.account,
      physicalName: (logicalId) => localResourceName(template, place, logicalId),
    });
    const endpoint: AwsEndpoint = await startAwsEndpoint({
      port: options.awsPort ?? 4566,
      dynamoDbUrl: dynamo.address,
      sqsUrl: fauxqs.address,
      s3Url: fauxqs.address,
      // Move tasks read each queue's redrive policy from SQS itself.
      sqsExtensions: localMessageMoves(() => late.sqs!),
      // Built on first use (the SQS client exists only once the endpoint is up), then reused.
      events: (action, body) =>
        (eventBus ??= localEventBus({
          busName: late.busName!,
          region: place.region,
          account: place.account,
          rules,
          sqs: late.awsSide!,
          queuePermits: (queueArn, rule) => permissions.serviceMay('events.amazonaws.com', 'sqs:SendMessage', queueArn, rule.arn),
        }))(action, body),
      onRequest: options.onAwsRequest,
      permissions,
      meter: options.meter,
    });
    cleanups.push(() => endpoint.stop());

    // The API's URL is the webhooks' default origin, and handlers read it at import, before
    // the API listens: a free port is chosen first.
    const apiPort = options.port === 0 ? await freePort() : (options.port ?? 3000);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    setProcessAwsEnvironment(endpoint.url);
    // Lambda's own pollers and EventBridge's sender: AWS's CPU, not the functions'.
    late.awsSide = awsSideSqs(endpoint.sqs, place.region);
    // Creating queues and moving messages: the SDK, as a tool would.
    const sqs = awsSideSqsClient();
    late.sqs = sqs;
    await createTables(new DynamoDBClient({}), place, model.tables);
    await createBuckets(new S3Client({}), place, model);
    const outputQueueIds = queueIdsByOutput(model);
    const visibility = new Map<string, number>();
    if (options.deliveryVisibilityTimeoutSeconds !== undefined) {
      for (const output of [QUEUE_OUTPUTS.delivery, QUEUE_OUTPUTS.slowDelivery]) {
        const queueId = outputQueueIds.get(output);
        if (queueId) visibility.set(queueId, options.deliveryVisibilityTimeoutSeconds);
      }
    }
    const queueRefs = await createQueues(sqs, place, model.queues, visibility);
    const values = localResourceValues(template, place, queueRefs, apiUrl);
    const resolve = (value: unknown) => resolveValue(value, { ...place, resources: values });
    const outputs = Object.fromEntries(Object.entries(model.outputs).map(([name, value]) => [name, resolve(value)]));
    late.busName = busNameOf(model, resolve);
    rules.push(...localRules(model, place, queueRefs, permissions.arnOf));

    Object.assign(
      process.env,
      sharedEnvironment(model.functions, resolve, {
        // The console's build sits beside the deployed bundle; locally it is the build folder.
        CONSOLE_DIR: CONSOLE_BUILD_DIR,
        JWT_SECRET: options.jwtSecret,
        ...options.environment,
      }),
    );
    // Handlers read their configuration at import, so they load only once it is set.
    const handlers = new Map<string, unknown>();
    // The meter prices each invocation's time by the function's local name (`delivery`, `fan-out`, …).
    const localNameOf = new Map(Object.entries(localFunctionIds(template)).map(([name, id]) => [id, name]));
    const threaded = new Set(options.functionThread === false ? [] : model.eventSources.map((mapping) => mapping.functionId));
    // The thread loads its handlers while this one loads the others (the API's).
    const starting = threaded.size > 0 ? startFunctionThread(model.functions.filter((fn) => threaded.has(fn.logicalId))) : undefined;
    // Handled here too, so that a failure while the API's handlers load leaves no unhandled rejection.
    starting?.catch(() => undefined);
    cleanups.push(async () => (await starting?.catch(() => undefined))?.stop());
    const own = new Map<string, unknown>();
    for (const fn of model.functions) if (!threaded.has(fn.logicalId)) own.set(fn.logicalId, await loadHandler(fn));
    const thread = await starting;
    for (const fn of model.functions) {
      const loaded = (thread?.handlers.get(fn.logicalId) ?? own.get(fn.logicalId)) as (...args: unknown[]) => unknown;
      const handler = options.meter ? options.meter.timed(localNameOf.get(fn.logicalId) ?? fn.logicalId, loaded) : loaded;
      // A threaded function's AWS calls carry its logical id from its own thread.
      handlers.set(fn.logicalId, threaded.has(fn.logicalId) ? handler : asFunction(fn.logicalId, handler));
    }

    const api: ApiServer = await startApiServer({
      port: apiPort,
      corsOrigins: corsOriginsOf(model),
      routes: meteredRoutes(options.meter, apiRoutes(model, handlers)),
    });
    cleanups.push(() => api.stop());

    const limits = localLambdaLimits(options.lambdaConcurrencyScale);
    const functionTimeouts = new Map<string, number>();
    if (options.deliveryFunctionTimeoutSeconds !== undefined) {
      for (const output of [QUEUE_OUTPUTS.delivery, QUEUE_OUTPUTS.slowDelivery]) {
        const mapping = model.eventSources.find((candidate) => candidate.queueId === outputQueueIds.get(output));
        if (mapping) functionTimeouts.set(mapping.functionId, options.deliveryFunctionTimeoutSeconds);
      }
    }
    const sources: SqsEventSource[] = startEventSources(model, {
      handlers,
      queues: queueRefs,
      visibility,
      functionTimeouts,
      limits,
      onThrottle: options.onThrottle,
      onInvocation: options.onInvocation,
      sqs: late.awsSide,
      region: place.region,
      concurrency: new Map([
        [outputQueueIds.get(QUEUE_OUTPUTS.fanOut) ?? '', options.fanOutConcurrency],
        [outputQueueIds.get(QUEUE_OUTPUTS.delivery) ?? '', options.deliveryConcurrency],
        [outputQueueIds.get(QUEUE_OUTPUTS.slowDelivery) ?? '', options.slowDeliveryConcurrency],
      ]),
      onError: options.onError,
    });
    const stopEventSources = async (): Promise<void> => {
      await Promise.all(sources.map((source) => source.stop()));
    };
    cleanups.push(stopEventSources);

    const queueOf = (key: keyof LocalQueues): QueueRef => {
      const queue = queueRefs.get(outputQueueIds.get(QUEUE_OUTPUTS[key]) ?? '');
      if (!queue) throw new TemplateModelError(`the template has no ${QUEUE_OUTPUTS[key]} output naming a queue`);
      return queue;
    };
    return {
      apiUrl: api.url,
      awsEndpoint: endpoint.url,
      busName: late.busName,
      tableName: physicalName(place, model.tables[0]?.logicalId ?? ''),
      claimCheckBucket: outputs.ClaimCheckBucketName ?? bucketName(place, model.buckets[0]?.logicalId ?? ''),
      queues: Object.fromEntries(Object.keys(QUEUE_OUTPUTS).map((key) => [key, queueOf(key as keyof LocalQueues)])) as unknown as LocalQueues,
      outputs,
      lambdaLimits: describeLocalLambdaLimits(limits),
      stopEventSources,
      stop: () => runCleanups(cleanups),
    };
  } catch (error) {
    await runCleanups(cleanups);
    throw error;
  }
}

/** Lambda refuses an SQS event source whose queue visibility timeout is shorter than its function's timeout. */
function checkDeliveryTimeouts(options: LocalStackOptions): void {
  const visibility = options.deliveryVisibilityTimeoutSeconds ?? DELIVERY.visibilityTimeoutSeconds;
  const timeout = options.deliveryFunctionTimeoutSeconds ?? DELIVERY.functionTimeoutSeconds;
  if (visibility < timeout) {
    throw new Error(
      `deliveryVisibilityTimeoutSeconds (${visibility} s) is shorter than deliveryFunctionTimeoutSeconds (${timeout} s): ` +
        'Lambda refuses an SQS event source whose queue visibility timeout is shorter than its function timeout',
    );
  }
}

function checkDuplicateRate({ sqsDuplicateRate: rate, dataDir }: LocalStackOptions): void {
  if (rate === undefined || rate === 0) return;
  if (!(rate > 0 && rate <= 1)) throw new Error(`sqsDuplicateRate must be between 0 and 1, not ${rate}`);
  // A copy shares its original's message id, which keys fauxqs's stored rows.
  if (dataDir) throw new Error('sqsDuplicateRate cannot be used with dataDir: copies of messages are not stored');
}

/** The deployed stack's props for these options: the template is synthesized with them. */
function stackProps(options: LocalStackOptions): WebhooksStackProps {
  return {
    // Local receivers are plain HTTP on loopback.
    allowHttpTargets: true,
    targetAllowlist: options.targetAllowlist ?? LOCAL_TARGET_ALLOWLIST,
    retrySchedule: options.retrySchedule,
    deliveryTimeoutMs: options.deliveryTimeoutMs,
    operatorSelectTimeoutMs: options.operatorSelectTimeoutMs,
    testPingTimeoutMs: options.testPingTimeoutMs,
    // Tiledesk's keys are read from the environment locally; only the token's age is a prop.
    tiledeskIngest: options.ingestTokenMaxAgeSeconds === undefined ? undefined : { tokenMaxAgeSeconds: options.ingestTokenMaxAgeSeconds },
    projectApiLimit: options.projectApiLimit,
    projectEventsLimit: options.projectEventsLimit,
    ingestSourceLimit: options.ingestSourceLimit,
    autoDisableAfterDead: options.autoDisableAfterDead,
    circuitCooldownSeconds: options.circuitCooldownSeconds,
    subscriptionLimit: options.subscriptionLimit,
    webhookOrigin: options.webhookOrigin,
    corsOrigins: options.corsOrigins,
    apiThrottle: options.apiThrottle,
    ingestThrottle: options.ingestThrottle,
  };
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

/** What every SDK client of the process (handlers and the local stack's own) talks to. */
function setProcessAwsEnvironment(endpointUrl: string): void {
  const env = process.env;
  env.AWS_ENDPOINT_URL = endpointUrl;
  env.AWS_REGION = WHERE.region;
  env.AWS_ACCESS_KEY_ID ??= 'local';
  env.AWS_SECRET_ACCESS_KEY ??= 'local';
  // Nothing receives CloudWatch metrics locally; a test may turn them on to read the EMF lines.
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}

/** A port free on loopback now, for a server that must know its URL before it listens. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await listen(probe, 0);
  const { port } = probe.address() as AddressInfo;
  await closeServer(probe);
  return port;
}

/** Stack outputs whose value is a queue's `Ref` (its URL), by output name. */
function queueIdsByOutput(model: StackModel): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [name, value] of Object.entries(model.outputs)) {
    const ref = (value as { Ref?: unknown } | null)?.Ref;
    if (typeof ref === 'string' && model.queues.some((queue) => queue.logicalId === ref)) ids.set(name, ref);
  }
  return ids;
}

/** The bus the rules listen on: the template's own, or the existing bus a rule names. */
function busNameOf(model: StackModel, resolve: (value: unknown) => string): string {
  const [bus] = model.buses;
  if (bus) return bus.name;
  const [rule] = model.rules;
  if (!rule) throw new TemplateModelError('the template has neither an event bus nor a rule');
  const name = resolve(rule.bus);
  return name.startsWith('arn:') ? (name.split('/').pop() ?? name) : name;
}

/** Each rule target as the local bus delivers to it. */
function localRules(model: StackModel, place: LocalPlace, queues: ReadonlyMap<string, QueueRef>, arnOf: (logicalId: string) => string): LocalRule[] {
  return model.rules.flatMap((rule) =>
    rule.targets.map((target): LocalRule => ({
      name: physicalName(place, rule.logicalId),
      arn: arnOf(rule.logicalId),
      pattern: rule.pattern,
      queueUrl: queues.get(target.queueId)!.url,
      queueArn: queues.get(target.queueId)!.arn,
      deadLetterQueueUrl: target.deadLetterQueueId ? queues.get(target.deadLetterQueueId)?.url : undefined,
      deadLetterQueueArn: target.deadLetterQueueId ? queues.get(target.deadLetterQueueId)?.arn : undefined,
      messageGroupId: target.messageGroupId,
      retry: target.retry,
      input: target.input,
      inputPath: target.inputPath,
    })),
  );
}

/** API routes whose requests the meter counts (API Gateway bills per request, per 512 KB). */
function meteredRoutes(meter: BillingMeter | undefined, routes: LocalRoute[]): LocalRoute[] {
  if (!meter) return routes;
  return routes.map((route) => ({
    ...route,
    handler: (event: { body?: string; rawPath?: string; rawQueryString?: string }, context: Context) => {
      meter.apiRequest(Buffer.byteLength(event.body ?? '') + Buffer.byteLength(event.rawPath ?? '') + Buffer.byteLength(event.rawQueryString ?? ''));
      return route.handler(event as never, context);
    },
  }));
}

function corsOriginsOf(model: StackModel): string[] | undefined {
  const origins = model.apis[0]?.cors?.AllowOrigins;
  return Array.isArray(origins) ? origins.map(String) : undefined;
}

/** The API's routes, each with its function, authorizer, timeouts and throttle from the template. */
function apiRoutes(model: StackModel, handlers: ReadonlyMap<string, unknown>): LocalRoute[] {
  const fn = (logicalId: string): FunctionModel => model.functions.find((candidate) => candidate.logicalId === logicalId)!;
  const api = model.apis[0];
  if (!api || model.apis.length > 1) throw new TemplateModelError(`the local API server serves one HTTP API; the template has ${model.apis.length}`);
  return api.routes.map((route): LocalRoute => ({
    routeKey: route.routeKey,
    functionName: route.functionId,
    handler: handlers.get(route.functionId) as LocalRoute['handler'],
    timeoutSeconds: fn(route.functionId).timeoutSeconds,
    integrationTimeoutMs: route.integrationTimeoutMs,
    throttle: route.throttle,
    authorizer: route.authorizerFunctionId
      ? {
          functionName: route.authorizerFunctionId,
          handler: handlers.get(route.authorizerFunctionId) as NonNullable<LocalRoute['authorizer']>['handler'],
          timeoutSeconds: fn(route.authorizerFunctionId).timeoutSeconds,
        }
      : undefined,
  }));
}
