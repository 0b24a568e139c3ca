import type { CfnTemplate } from './synth';

/** Why the local stack leaves a resource type or a property aside. */
type Reasons = Readonly<Record<string, string>>;

/** A resource type the local stack builds: the properties it reads, and those it leaves aside with why. */
interface ModelledType {
  readonly reads: readonly string[];
  readonly ignores?: Reasons;
}

const DELETION = {
  DeletionPolicy: 'what CloudFormation keeps at stack deletion; the local stack ends with its process',
  UpdateReplacePolicy: 'what CloudFormation keeps at replacement; the local stack is never updated in place',
};
const DEPENDS_ON = { DependsOn: 'deployment order; the local stack builds in its own order from the references' };
const ENCRYPTION_AT_REST = 'encryption at rest changes nothing a caller can see';

/**
 * What the local stack builds from each resource type of the synthesized template, property by
 * property (the model is `local/template/stack-model.ts`). A type or property in neither list
 * fails the template-coverage test (`test/local/template-coverage.test.ts`): a construct that
 * starts to deploy something new must be modelled locally, or left aside here with its reason.
 */
export const MODELLED_TYPES: Readonly<Record<string, ModelledType>> = {
  'AWS::Lambda::Function': {
    reads: ['Environment', 'Timeout', 'MemorySize', 'ReservedConcurrentExecutions', 'Metadata'],
    ignores: {
      Code: 'the bundle; the local stack runs the handler module the metadata names, from source',
      Handler: 'the bundle\'s entry point; the metadata names the source module and export',
      Runtime: 'the local stack runs on the same Node 22 (the pinned node dev dependency)',
      Architectures: 'arm64 or x86 runs the same JavaScript',
      Description: 'text for the console',
      LoggingConfig: 'logs go to the local process\'s output',
      Role: 'the IAM evaluation at the local AWS endpoint reads the role (local/iam)',
      TracingConfig: 'X-Ray tracing is off locally (POWERTOOLS_TRACE_ENABLED=false)',
      ...DEPENDS_ON,
    },
  },
  'AWS::Lambda::EventSourceMapping': {
    reads: ['EventSourceArn', 'FunctionName', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'ScalingConfig', 'FunctionResponseTypes', 'Enabled'],
  },
  'AWS::SQS::Queue': {
    reads: ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'RedrivePolicy', 'MaximumMessageSize', 'ReceiveMessageWaitTimeSeconds'],
    ignores: { SqsManagedSseEnabled: ENCRYPTION_AT_REST, KmsMasterKeyId: ENCRYPTION_AT_REST, ...DELETION },
  },
  'AWS::DynamoDB::GlobalTable': {
    reads: ['AttributeDefinitions', 'KeySchema', 'GlobalSecondaryIndexes', 'BillingMode'],
    ignores: {
      Replicas: 'one region locally; the replica\'s point-in-time recovery is a backup setting',
      SSESpecification: ENCRYPTION_AT_REST,
      TimeToLiveSpecification: 'dynalite does not expire items; AWS deletes expired items only within days, so nothing may rely on when it happens',
      ...DELETION,
    },
  },
  'AWS::Events::EventBus': { reads: ['Name'] },
  'AWS::Events::Rule': {
    reads: ['EventBusName', 'EventPattern', 'State', 'Targets'],
    ignores: { Description: 'text for the console' },
  },
  'AWS::ApiGatewayV2::Api': {
    reads: ['ProtocolType', 'CorsConfiguration'],
    ignores: { Name: 'the console\'s name of the API', Description: 'text for the console' },
  },
  'AWS::ApiGatewayV2::Stage': {
    reads: ['ApiId', 'StageName', 'DefaultRouteSettings', 'RouteSettings'],
    ignores: {
      AccessLogSettings: 'access logs: the local API server logs nothing per request',
      AutoDeploy: 'the local API serves the template\'s routes as they are',
      ...DEPENDS_ON,
    },
  },
  'AWS::ApiGatewayV2::Route': { reads: ['ApiId', 'RouteKey', 'Target', 'AuthorizationType', 'AuthorizerId'] },
  'AWS::ApiGatewayV2::Integration': {
    reads: ['ApiId', 'IntegrationType', 'IntegrationUri', 'PayloadFormatVersion', 'TimeoutInMillis'],
  },
  'AWS::ApiGatewayV2::Authorizer': {
    reads: ['ApiId', 'AuthorizerType', 'AuthorizerUri', 'AuthorizerPayloadFormatVersion', 'EnableSimpleResponses', 'IdentitySource', 'AuthorizerResultTtlInSeconds'],
    ignores: { Name: 'the console\'s name of the authorizer' },
  },
  'AWS::S3::Bucket': {
    reads: ['LifecycleConfiguration'],
    ignores: {
      BucketEncryption: ENCRYPTION_AT_REST,
      PublicAccessBlockConfiguration: 'the local endpoint serves loopback only; nothing is public',
      ...DELETION,
    },
  },
};

/** Resource types the local stack does not build, each with why nothing local depends on it. */
export const IGNORED_TYPES: Reasons = {
  'AWS::CloudWatch::Alarm': 'alarms watch AWS metrics; the local stack publishes none (POWERTOOLS_METRICS_DISABLED)',
  'AWS::CloudWatch::Dashboard': 'a view of AWS metrics, which the local stack does not publish',
  'AWS::Logs::LogGroup': 'logs go to the local process\'s output',
  'AWS::IAM::Role': 'not built as a resource: the IAM evaluation at the local AWS endpoint reads each function\'s role from the template (local/iam)',
  'AWS::IAM::Policy': 'not built as a resource: the IAM evaluation at the local AWS endpoint reads the policies attached to each role (local/iam)',
  'AWS::Lambda::Permission': 'API Gateway\'s permission to invoke the functions behind its routes; locally the API server is the only caller of those functions',
  'AWS::SQS::QueuePolicy': 'not built as a resource: the IAM evaluation applies it to the functions\' calls (as made over TLS) and to the local EventBridge\'s sends (events.amazonaws.com for each rule)',
  'AWS::S3::BucketPolicy': 'not built as a resource: the IAM evaluation applies it to the functions\' calls (as made over TLS)',
  'AWS::SecretsManager::Secret': 'the local endpoint serves no Secrets Manager; the local stack gives the secret\'s value in the environment (JWT_SECRET)',
  'AWS::SNS::Subscription': 'alarm notifications; the local stack raises no alarms',
  'AWS::CDK::Metadata': 'CDK\'s version report to AWS',
};

/**
 * What of a template the local stack neither models nor leaves aside with a reason:
 * `Type` for a whole resource type, `Type.Property` for a property. Empty when covered.
 */
export function uncoveredParts(template: CfnTemplate): string[] {
  const uncovered = new Set<string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type in IGNORED_TYPES) continue;
    const modelled = MODELLED_TYPES[resource.Type];
    if (!modelled) {
      uncovered.add(resource.Type);
      continue;
    }
    const { Type: _type, Properties = {}, ...attributes } = resource;
    for (const name of [...Object.keys(Properties), ...Object.keys(attributes)]) {
      if (!modelled.reads.includes(name) && !(modelled.ignores && name in modelled.ignores)) uncovered.add(`${resource.Type}.${name}`);
    }
  }
  return [...uncovered].sort();
}
