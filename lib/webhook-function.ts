import * as path from 'node:path';
import { CfnResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { ICommandHooks, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../lambdas/core/settings';
import { LOCAL_HANDLER_METADATA, LocalHandlerMetadata } from './local-handler-metadata';

/** Props of {@link WebhookFunction}. */
export interface WebhookFunctionProps {
  /** Handler file under `lambdas/handlers/`, without extension, e.g. `subscriptions-api`. */
  readonly handlerFile: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** Extra environment variables. */
  readonly environment?: Record<string, string>;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Commands run around esbuild, e.g. to put files beside the bundle. @default none */
  readonly commandHooks?: ICommandHooks;
  /**
   * Concurrent executions reserved for this function, which also cap it (docs/design.md §3.12).
   * @default none: the account's unreserved pool
   */
  readonly reservedConcurrency?: number;
  /**
   * The export the local stack calls, for a function that shares its handler file with another
   * whose environment differs: the local stack loads each file once, in one process, so such a
   * function needs an export bound to its own settings. Deployed, Lambda calls `handler`.
   * @default 'handler'
   */
  readonly localExport?: string;
}


/** The DynamoDB actions the service's code calls (no scans, transactions, describes or streams). */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:BatchWriteItem';

/** The table's global secondary indexes (`TABLE_KEYS` in `lambdas/core/settings.ts`). */
export type IndexName = typeof TABLE_KEYS.legacyTopicIndex.name;

/**
 * The Query grant on the unused topic index that the fan-out, operator.select and ingest read
 * until 2026-12-05: kept one more release, so their code from before still runs during an
 * upgrade (`TABLE_KEYS.legacyTopicIndex`).
 */
export const LEGACY_TOPIC_INDEX_QUERY: TableAccess['indexes'] = { [TABLE_KEYS.legacyTopicIndex.name]: ['dynamodb:Query'] };

/**
 * What a function may do with the table, action by action. A query of an index is authorized
 * on that index's ARN only, so each index a function queries is named here.
 */
export interface TableAccess {
  /** Actions on the table itself: item reads and writes, queries of the base table. @default none */
  readonly table?: readonly TableAction[];
  /** Actions on each index the function queries. @default none */
  readonly indexes?: Partial<Record<IndexName, readonly 'dynamodb:Query'[]>>;
  /**
   * Queries of the table may read these attributes only (with a projection), an IAM condition
   * on `dynamodb:Attributes` and `dynamodb:Select`; `dynamodb:Query` is then granted in a
   * statement of its own. @default any attribute
   */
  readonly queryAttributes?: readonly string[];
}

/** Context key that turns on X-Ray tracing of every function (`cdk deploy -c tracing=true`). */
export const TRACING_CONTEXT = 'tiledesk-webhooks:tracing';

/**
 * Every function of the service with the same defaults: Node.js 22 on arm64, esbuild-minified
 * with source maps, a log group with retention, Powertools settings, and X-Ray tracing when
 * {@link TRACING_CONTEXT} is true (off by default: it costs CPU on every delivery and time at
 * every cold start; BENCHMARKS.md).
 */
export class WebhookFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: WebhookFunctionProps) {
    super(scope, id);
    const tracing = this.node.tryGetContext(TRACING_CONTEXT) === true;
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(__dirname, '..', 'lambdas', 'handlers', `${props.handlerFile}.ts`),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'tiledesk-webhooks',
        POWERTOOLS_METRICS_NAMESPACE: 'TiledeskWebhooks',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_TRACE_ENABLED: String(tracing),
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        // The Node.js 22 runtime ships SDK v3; leaving it out keeps bundles small and cold starts short.
        externalModules: ['@aws-sdk/*'],
        // A constant for the bundler, so an untraced bundle leaves the X-Ray SDK out entirely.
        define: { 'process.env.POWERTOOLS_TRACE_ENABLED': JSON.stringify(String(tracing)) },
        commandHooks: props.commandHooks,
      },
    });
    const localHandler: LocalHandlerMetadata = {
      entry: path.posix.join('lambdas', 'handlers', `${props.handlerFile}.ts`),
      export: props.localExport ?? 'handler',
    };
    (this.function.node.defaultChild as CfnResource).addMetadata(LOCAL_HANDLER_METADATA, localHandler);
    acknowledge(this, {
      'AwsSolutions::AwsSolutions-L1':
        'nodejs22.x is the runtime the project chose (DEVELOPERS.md); the local stack and tests run on the same Node 22 (the pinned node dev dependency).',
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        'The basic execution role grants only CloudWatch Logs writes, which every function needs.',
    });
    if (tracing) {
      acknowledge(this, {
        'AwsSolutions::AwsSolutions-IAM5[Resource::*]':
          'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.',
      });
    }
  }

  /**
   * Sets `TABLE_NAME` and grants exactly the declared actions, on the table's ARN and on the
   * ARN of each named index (never `index/*`), in one call so the two cannot drift.
   */
  bindTable(table: ITable, access: TableAccess): this {
    // A customer-managed key would need KMS grants this method does not make; the deployed
    // call would then fail only on AWS, so refuse it at synth.
    if (table.encryptionKey) throw new Error('bindTable grants no KMS access: the table must use an AWS-owned or AWS-managed key');
    this.function.addEnvironment('TABLE_NAME', table.tableName);
    const restricted = access.queryAttributes !== undefined;
    const grants: [string, readonly string[]][] = [
      [table.tableArn, (access.table ?? []).filter((action) => !(restricted && action === 'dynamodb:Query'))],
      ...Object.entries(access.indexes ?? {}).map(([index, actions]): [string, readonly string[]] => [
        `${table.tableArn}/index/${index}`,
        actions ?? [],
      ]),
    ];
    for (const [resource, actions] of grants) {
      if (actions.length > 0) Grant.addToPrincipal({ grantee: this.function, actions: [...actions], resourceArns: [resource] });
    }
    if (restricted && access.table?.includes('dynamodb:Query')) {
      // The IAM guide's form: every attribute read among these, and never all of an item's
      // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_dynamodb_attributes.html).
      this.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [table.tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...(access.queryAttributes ?? [])] },
            StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          },
        }),
      );
    }
    return this;
  }

  /**
   * Grants `sqs:SendMessage` on the queue, which also authorizes SendMessageBatch. Nothing
   * else: the queue URL comes from the environment, so GetQueueUrl and GetQueueAttributes
   * are never called.
   */
  grantSendTo(queue: IQueue): this {
    // Sending to a queue encrypted with a KMS key also needs kms:GenerateDataKey and kms:Decrypt.
    if (queue.encryptionMasterKey) throw new Error('grantSendTo grants no KMS access: the queue must use SQS-managed encryption');
    queue.grant(this.function, 'sqs:SendMessage');
    return this;
  }
}

/** Acknowledges cdk-nag findings on a construct, each with the reason it is accepted. */
export function acknowledge(scope: Construct, reasons: Record<string, string>): void {
  for (const [id, reason] of Object.entries(reasons)) Validations.of(scope).acknowledge({ id, reason });
}
