import { LOCAL_HANDLER_METADATA, LocalHandlerMetadata } from '../../lib/local-handler-metadata';
import type { CfnTemplate, CfnTemplateResource } from './synth';
import { referencedLogicalId, referencedLogicalIds } from './intrinsics';

/** `MaximumMessageSize` of a queue that does not set it, per the SQS API reference (CreateQueue). */
export const SQS_DOCUMENTED_DEFAULT_MAXIMUM_MESSAGE_SIZE = 262_144;

/** A Lambda function as the local runtime runs it. */
export interface FunctionModel {
  logicalId: string;
  /** Handler file relative to the project root, and the export to call. */
  entry: string;
  exportName: string;
  /** Environment as the template gives it, references unresolved. */
  environment: Record<string, unknown>;
  timeoutSeconds: number;
  memorySize: number;
  reservedConcurrency?: number;
}

/** An SQS queue's attributes; `redrive` names its DLQ by logical id. */
export interface QueueModel {
  logicalId: string;
  visibilityTimeoutSeconds: number;
  retentionSeconds: number;
  delaySeconds: number;
  maximumMessageSize: number;
  receiveWaitSeconds?: number;
  redrive?: { deadLetterQueueId: string; maxReceiveCount: number };
}

/** A Lambda SQS event source mapping. */
export interface EventSourceModel {
  logicalId: string;
  functionId: string;
  queueId: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  maximumConcurrency?: number;
  reportBatchItemFailures: boolean;
  enabled: boolean;
}

export interface TableModel {
  logicalId: string;
  /** The CreateTable request's shape, as the template gives it. */
  attributeDefinitions: { AttributeName: string; AttributeType: string }[];
  keySchema: { AttributeName: string; KeyType: string }[];
  globalSecondaryIndexes: { IndexName: string; KeySchema: { AttributeName: string; KeyType: string }[]; Projection: { ProjectionType: string; NonKeyAttributes?: string[] } }[];
  billingMode: string;
}

/** A rule target that is an SQS queue, with EventBridge's target settings. */
export interface RuleTargetModel {
  id: string;
  queueId: string;
  deadLetterQueueId?: string;
  /** `SqsParameters.MessageGroupId`, sent as written (EventBridge reads no path there: docs/design.md §3.2). */
  messageGroupId?: string;
  /** A constant JSON text sent instead of the event (`Input`). */
  input?: string;
  /** The part of the event sent (`InputPath`). */
  inputPath?: string;
  retry: { maximumRetryAttempts: number; maximumEventAgeSeconds: number };
}

export interface RuleModel {
  logicalId: string;
  /** The bus: a logical id of the template's bus, or a name (an existing bus). */
  bus: unknown;
  pattern: Record<string, unknown>;
  targets: RuleTargetModel[];
}

export interface ThrottleModel {
  rateLimit: number;
  burstLimit: number;
}

export interface RouteModel {
  routeKey: string;
  functionId: string;
  /** The authorizer's function, or undefined for a route with none. */
  authorizerFunctionId?: string;
  integrationTimeoutMs: number;
  /** The stage's throttle of this route, or undefined when the stage sets none. */
  throttle?: ThrottleModel;
}

export interface ApiModel {
  logicalId: string;
  routes: RouteModel[];
  cors?: Record<string, unknown>;
}

export interface BucketModel {
  logicalId: string;
  lifecycleRules: unknown[];
}

/** Everything the local stack builds, read from the synthesized template. */
export interface StackModel {
  functions: FunctionModel[];
  queues: QueueModel[];
  eventSources: EventSourceModel[];
  tables: TableModel[];
  buses: { logicalId: string; name: string }[];
  rules: RuleModel[];
  apis: ApiModel[];
  buckets: BucketModel[];
  /** Stack outputs as the template gives them, references unresolved. */
  outputs: Record<string, unknown>;
}

/** A template the local stack cannot build as AWS would: names the resource and the setting. */
export class TemplateModelError extends Error {}

/** HTTP APIs: an integration gives up after 30 s unless set shorter (the API Gateway quotas page). */
const HTTP_API_MAX_INTEGRATION_TIMEOUT_MS = 30_000;

/**
 * Reads what the local stack builds from a synthesized template, applying AWS's documented
 * defaults where the template leaves a property out (SQS's 30 s visibility and 4-day retention,
 * an event source's batch of 10, EventBridge's 185 retries over 24 h, …).
 */
export function readStackModel(template: CfnTemplate): StackModel {
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);
  const props = (resource: CfnTemplateResource) => resource.Properties ?? {};

  const functions = ofType('AWS::Lambda::Function').map(([logicalId, resource]): FunctionModel => {
    const p = props(resource);
    const handler = resource.Metadata?.[LOCAL_HANDLER_METADATA] as Partial<LocalHandlerMetadata> | undefined;
    if (!handler?.entry || !handler.export) {
      throw new TemplateModelError(`function ${logicalId} has no ${LOCAL_HANDLER_METADATA} metadata naming its handler module (lib/webhook-function.ts writes it)`);
    }
    return {
      logicalId,
      entry: handler.entry,
      exportName: handler.export,
      environment: ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}),
      timeoutSeconds: Number(p.Timeout ?? 3),
      memorySize: Number(p.MemorySize ?? 128),
      reservedConcurrency: p.ReservedConcurrentExecutions === undefined ? undefined : Number(p.ReservedConcurrentExecutions),
    };
  });

  const queues = ofType('AWS::SQS::Queue').map(([logicalId, resource]): QueueModel => {
    const p = props(resource);
    const redrive = p.RedrivePolicy as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | undefined;
    const deadLetterQueueId = redrive ? referencedLogicalId(redrive.deadLetterTargetArn) : undefined;
    if (redrive && !deadLetterQueueId) throw new TemplateModelError(`queue ${logicalId}: the local stack redrives only to a queue of the template`);
    return {
      logicalId,
      visibilityTimeoutSeconds: Number(p.VisibilityTimeout ?? 30),
      retentionSeconds: Number(p.MessageRetentionPeriod ?? 345_600),
      delaySeconds: Number(p.DelaySeconds ?? 0),
      // Unset, the smaller of AWS's two documented defaults: the SQS API reference gives 262,144
      // bytes (256 KiB) although the limit is now 1 MiB, and a queue left at 256 KiB on AWS must
      // refuse the same messages here (fauxqs alone would take 1 MiB).
      maximumMessageSize: Number(p.MaximumMessageSize ?? SQS_DOCUMENTED_DEFAULT_MAXIMUM_MESSAGE_SIZE),
      receiveWaitSeconds: p.ReceiveMessageWaitTimeSeconds === undefined ? undefined : Number(p.ReceiveMessageWaitTimeSeconds),
      redrive: deadLetterQueueId ? { deadLetterQueueId, maxReceiveCount: Number(redrive?.maxReceiveCount) } : undefined,
    };
  });

  const eventSources = ofType('AWS::Lambda::EventSourceMapping').map(([logicalId, resource]): EventSourceModel => {
    const p = props(resource);
    const functionId = referencedLogicalId(p.FunctionName);
    const queueId = referencedLogicalId(p.EventSourceArn);
    if (!functionId || !queueId || !queues.some((queue) => queue.logicalId === queueId)) {
      throw new TemplateModelError(`event source mapping ${logicalId}: the local stack runs SQS event sources of the template's own queues and functions only`);
    }
    const responseTypes = (p.FunctionResponseTypes as string[] | undefined) ?? [];
    return {
      logicalId,
      functionId,
      queueId,
      batchSize: Number(p.BatchSize ?? 10),
      maxBatchingWindowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
      maximumConcurrency: (p.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency,
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      enabled: p.Enabled !== false,
    };
  });

  const tables = ofType('AWS::DynamoDB::GlobalTable').map(([logicalId, resource]): TableModel => {
    const p = props(resource);
    return {
      logicalId,
      attributeDefinitions: p.AttributeDefinitions as TableModel['attributeDefinitions'],
      keySchema: p.KeySchema as TableModel['keySchema'],
      globalSecondaryIndexes: (p.GlobalSecondaryIndexes as TableModel['globalSecondaryIndexes'] | undefined) ?? [],
      billingMode: String(p.BillingMode ?? 'PROVISIONED'),
    };
  });

  const buses = ofType('AWS::Events::EventBus').map(([logicalId, resource]) => ({ logicalId, name: String(props(resource).Name) }));

  const rules = ofType('AWS::Events::Rule')
    .filter(([, resource]) => (props(resource).State ?? 'ENABLED') === 'ENABLED')
    .map(([logicalId, resource]): RuleModel => {
      const p = props(resource);
      return {
        logicalId,
        bus: referencedLogicalId(p.EventBusName) ?? p.EventBusName ?? 'default',
        pattern: p.EventPattern as Record<string, unknown>,
        targets: ((p.Targets as Record<string, unknown>[] | undefined) ?? []).map((target) => readRuleTarget(logicalId, target, queues)),
      };
    });

  const buckets = ofType('AWS::S3::Bucket').map(([logicalId, resource]): BucketModel => ({
    logicalId,
    lifecycleRules: ((props(resource).LifecycleConfiguration as { Rules?: unknown[] } | undefined)?.Rules ?? []),
  }));

  return {
    functions,
    queues,
    eventSources,
    tables,
    buses,
    rules,
    apis: readApis(template),
    buckets,
    outputs: Object.fromEntries(Object.entries(template.Outputs ?? {}).map(([name, output]) => [name, output.Value])),
  };
}

const TARGET_KEYS = new Set(['Id', 'Arn', 'DeadLetterConfig', 'RetryPolicy', 'SqsParameters', 'Input', 'InputPath']);

function readRuleTarget(ruleId: string, target: Record<string, unknown>, queues: QueueModel[]): RuleTargetModel {
  const unknownKeys = Object.keys(target).filter((key) => !TARGET_KEYS.has(key));
  if (unknownKeys.length > 0) throw new TemplateModelError(`rule ${ruleId}: the local bus does not model the target's ${unknownKeys.join(', ')}`);
  const queueId = referencedLogicalId(target.Arn);
  if (!queueId || !queues.some((queue) => queue.logicalId === queueId)) {
    throw new TemplateModelError(`rule ${ruleId}: the local bus delivers to the template's own SQS queues only`);
  }
  const retry = (target.RetryPolicy ?? {}) as { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  const sqsParameters = target.SqsParameters as { MessageGroupId?: string } | undefined;
  return {
    id: String(target.Id),
    queueId,
    deadLetterQueueId: referencedLogicalId((target.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn),
    messageGroupId: sqsParameters?.MessageGroupId,
    input: target.Input === undefined ? undefined : String(target.Input),
    inputPath: target.InputPath === undefined ? undefined : String(target.InputPath),
    // EventBridge's defaults: 185 attempts, 24 hours.
    retry: { maximumRetryAttempts: retry.MaximumRetryAttempts ?? 185, maximumEventAgeSeconds: retry.MaximumEventAgeInSeconds ?? 86_400 },
  };
}

/** HTTP APIs with their routes: the function behind each, its authorizer, timeout and throttle. */
function readApis(template: CfnTemplate): ApiModel[] {
  const entries = Object.entries(template.Resources);
  const byId = (id: string | undefined) => (id ? template.Resources[id] : undefined);
  const functionOf = (value: unknown) => referencedLogicalIds(value).find((id) => byId(id)?.Type === 'AWS::Lambda::Function');
  return entries
    .filter(([, resource]) => resource.Type === 'AWS::ApiGatewayV2::Api')
    .map(([apiId, api]): ApiModel => {
      if (api.Properties?.ProtocolType !== 'HTTP') throw new TemplateModelError(`API ${apiId}: the local API server is an HTTP API`);
      const ofApi = (type: string) => entries.filter(([, resource]) => resource.Type === type && referencedLogicalId(resource.Properties?.ApiId) === apiId);
      const stages = ofApi('AWS::ApiGatewayV2::Stage').map(([, stage]) => stage.Properties ?? {});
      const stage = stages.find((candidate) => candidate.StageName === '$default') ?? stages[0] ?? {};
      const defaultThrottle = throttleOf(stage.DefaultRouteSettings);
      const routeSettings = (stage.RouteSettings ?? {}) as Record<string, unknown>;
      const routes = ofApi('AWS::ApiGatewayV2::Route').map(([routeId, route]): RouteModel => {
        const p = route.Properties ?? {};
        const routeKey = String(p.RouteKey);
        const integration = byId(referencedLogicalIds(p.Target)[0])?.Properties ?? {};
        const functionId = functionOf(integration.IntegrationUri);
        if (integration.IntegrationType !== 'AWS_PROXY' || integration.PayloadFormatVersion !== '2.0' || !functionId) {
          throw new TemplateModelError(`route ${routeId}: the local API server runs Lambda proxy integrations (payload 2.0) only`);
        }
        const authorizer = p.AuthorizationType === 'CUSTOM' ? byId(referencedLogicalId(p.AuthorizerId))?.Properties : undefined;
        if (authorizer && (authorizer.AuthorizerType !== 'REQUEST' || authorizer.EnableSimpleResponses !== true)) {
          throw new TemplateModelError(`route ${routeId}: the local API server runs Lambda REQUEST authorizers with simple responses only`);
        }
        // API Gateway itself answers 401 to a request missing an identity source, without the
        // authorizer, and caches an answer by those sources for the TTL (300 s when unset): the
        // API's own 401 body and per-project answers need neither, and the local server models
        // neither, so a template that sets them is refused rather than run differently.
        if (authorizer && ((authorizer.IdentitySource as unknown[] | undefined)?.length || authorizer.AuthorizerResultTtlInSeconds !== 0)) {
          throw new TemplateModelError(
            `route ${routeId}: the local API server runs authorizers without identity sources and without result caching (IdentitySource [], AuthorizerResultTtlInSeconds 0)`,
          );
        }
        if (p.AuthorizationType !== 'NONE' && p.AuthorizationType !== 'CUSTOM') {
          throw new TemplateModelError(`route ${routeId}: authorization ${String(p.AuthorizationType)} is not modelled locally`);
        }
        return {
          routeKey,
          functionId,
          authorizerFunctionId: authorizer ? functionOf(authorizer.AuthorizerUri) : undefined,
          integrationTimeoutMs: Math.min(Number(integration.TimeoutInMillis ?? HTTP_API_MAX_INTEGRATION_TIMEOUT_MS), HTTP_API_MAX_INTEGRATION_TIMEOUT_MS),
          throttle: throttleOf(routeSettings[routeKey]) ?? defaultThrottle,
        };
      });
      return { logicalId: apiId, routes, cors: api.Properties?.CorsConfiguration as Record<string, unknown> | undefined };
    });
}

function throttleOf(settings: unknown): ThrottleModel | undefined {
  const s = settings as { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number } | undefined;
  if (s?.ThrottlingRateLimit === undefined && s?.ThrottlingBurstLimit === undefined) return undefined;
  return { rateLimit: Number(s.ThrottlingRateLimit ?? 0), burstLimit: Number(s.ThrottlingBurstLimit ?? 0) };
}
