import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { CfnStage, HttpApi, HttpMethod, HttpNoneAuthorizer, ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IEventBus } from 'aws-cdk-lib/aws-events';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { stackOutput } from './stack-output';
import { CLAIM_CHECK, DELIVERY, INGEST_THROTTLE, PUBLISH_EVENTS_ROUTE, PUBLISH_EXAMPLE_ROUTE, REQUEST_LIMITS, TILEDESK_INGEST, TILEDESK_INGEST_ROUTE, claimCheckExpiryDays } from '../lambdas/core/settings';
import { RequestLimit, formatRequestLimit } from '../lambdas/core/request-limit';
import { parseSourceAllowlist } from '../lambdas/core/ingest-source';
import { checkPublicKey, checkSecretArn } from './setting-checks';
import { operatorSelectFunctionTimeoutSeconds } from './timeout-budget';
import { LEGACY_TOPIC_INDEX_QUERY, WebhookFunction, acknowledge } from './webhook-function';

/** How ingest recognises an unmodified tiledesk-server. */
export interface TiledeskIngestProps {
  /** ARN of a Secrets Manager secret holding Tiledesk's HS256 `GLOBAL_SECRET`. */
  readonly globalSecretArn?: string;
  /** PEM public key of Tiledesk's RS256 `GLOBAL_SECRET_OR_PRIVATE_KEY`. */
  readonly globalPublicKey?: string;
  /**
   * ARN of a secret holding the `secret` of the global subscriptions (their `x-hook-secret`);
   * required as soon as `globalSecretArn` or `globalPublicKey` enables ingest.
   */
  readonly hookSecretArn?: string;
  /**
   * Tiledesk's egress addresses, comma-separated CIDRs: ingest refuses (403) any other source
   * (`requestContext.http.sourceIp`). @default any source
   */
  readonly sourceAllowlist?: string;
  /** Oldest token `iat` accepted, in seconds. @default 300 */
  readonly tokenMaxAgeSeconds?: number;
}

/** Props of {@link EventIngest}. */
export interface EventIngestProps {
  /** Days attempt logs are kept (the operator.select attempts ingest logs; claim checks outlive them, `claimCheckExpiryDays`). @default 7 */
  readonly attemptLogTtlDays?: number;
  /** How long the operator.select hook may take (the function's timeout follows). @default 5000 (`DELIVERY.operatorSelectTimeoutMs`) */
  readonly operatorSelectTimeoutMs?: number;
  /** The API the routes are added to. */
  readonly httpApi: HttpApi;
  readonly table: ITable;
  /** Where events are published. */
  readonly bus: IEventBus;
  /** What names the bus in `PutEvents`: its name, or its ARN when `existingBus` gave one. */
  readonly busReference: string;
  /** Functions that read claim-checked payloads back before delivering them. */
  readonly payloadReaders: readonly WebhookFunction[];
  /** Tiledesk's keys; without them every ingest request is refused (401). @default none */
  readonly tiledesk?: TiledeskIngestProps;
  /** CIDRs and host names exempt from the private-address refusal (operator.select hooks). @default '' */
  readonly targetAllowlist?: string;
  /** Throttling of `POST /tiledesk/ingest`. @default INGEST_THROTTLE: burst 1,000, rate 500 requests/s */
  readonly ingestThrottle?: ThrottleSettings;
  /** Each project's published events (ingest and `POST /{projectId}/events`). @default 25/s, burst 100 */
  readonly projectEventsLimit?: RequestLimit;
  /** Ingest requests per source address. @default 50/s, burst 100 */
  readonly ingestSourceLimit?: RequestLimit;
}

/**
 * The ingest function's Tiledesk settings. Throws at synth, in one line naming the setting,
 * when ingest is enabled without the hook secret (the `x-hook-secret` check would be skipped)
 * or with a malformed source allowlist.
 */
function tiledeskIngestEnvironment(tiledesk: TiledeskIngestProps): Record<string, string> {
  const enabled = Boolean(tiledesk.globalSecretArn || tiledesk.globalPublicKey);
  if (enabled && !tiledesk.hookSecretArn) {
    throw new Error(
      'tiledeskHookSecretArn is required when Tiledesk ingest is enabled (tiledeskGlobalSecretArn or tiledeskGlobalPublicKey is set): ' +
        "store the global subscriptions' secret (their x-hook-secret; TILEDESK_INGEST_HOOK_SECRET locally) in Secrets Manager and pass its ARN",
    );
  }
  checkSecretArn('tiledeskGlobalSecretArn', tiledesk.globalSecretArn);
  checkSecretArn('tiledeskHookSecretArn', tiledesk.hookSecretArn);
  checkPublicKey('tiledeskGlobalPublicKey', tiledesk.globalPublicKey);
  try {
    parseSourceAllowlist(tiledesk.sourceAllowlist);
  } catch (error) {
    throw new Error(`tiledeskIngestSourceAllowlist=${tiledesk.sourceAllowlist} is not valid: ${(error as Error).message}`);
  }
  const maxAge = tiledesk.tokenMaxAgeSeconds ?? TILEDESK_INGEST.tokenMaxAgeSeconds;
  if (!Number.isInteger(maxAge) || maxAge < 1) {
    throw new Error(`ingestTokenMaxAgeSeconds=${maxAge} is not valid: use whole seconds of at least 1, e.g. ${TILEDESK_INGEST.tokenMaxAgeSeconds}`);
  }
  return {
    ...(tiledesk.globalSecretArn ? { TILEDESK_GLOBAL_SECRET_ARN: tiledesk.globalSecretArn } : {}),
    ...(tiledesk.globalPublicKey ? { TILEDESK_GLOBAL_PUBLIC_KEY: tiledesk.globalPublicKey } : {}),
    ...(tiledesk.hookSecretArn ? { TILEDESK_INGEST_HOOK_SECRET_ARN: tiledesk.hookSecretArn } : {}),
    ...(tiledesk.sourceAllowlist ? { TILEDESK_INGEST_SOURCE_ALLOWLIST: tiledesk.sourceAllowlist } : {}),
    INGEST_TOKEN_MAX_AGE_SECONDS: String(maxAge),
  };
}

/**
 * Events in over HTTPS: `POST /tiledesk/ingest` for an unmodified tiledesk-server's global
 * subscriptions (authenticated by Tiledesk's own token, so without the API's authorizer),
 * `POST /{projectId}/events` for producers without AWS credentials (platform token), and
 * the claim-check bucket where payloads over EventBridge's 256 KB wait (`claimCheckExpiryDays`)
 * until delivery reads them back.
 */
export class EventIngest extends Construct {
  readonly claimCheckBucket: Bucket;
  readonly ingestFunction: WebhookFunction;

  constructor(scope: Construct, id: string, props: EventIngestProps) {
    super(scope, id);
    const attemptLogTtlDays = props.attemptLogTtlDays ?? DELIVERY.attemptLogTtlDays;
    const operatorSelectTimeoutMs = props.operatorSelectTimeoutMs ?? DELIVERY.operatorSelectTimeoutMs;
    this.claimCheckBucket = new Bucket(this, 'ClaimChecks', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [
        { id: 'expire-claim-checks', expiration: Duration.days(claimCheckExpiryDays(attemptLogTtlDays)), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Kept by `cdk destroy`, as the table: CloudFormation cannot delete a bucket that still
      // holds objects (the stack would end in DELETE_FAILED), and its objects expire by themselves.
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
    });
    acknowledge(this.claimCheckBucket, {
      'AwsSolutions::AwsSolutions-S1':
        'Claim checks are transient copies of event payloads, written and read only by the service functions; server access logs would add a second bucket holding nothing the functions\' own logs lack.',
    });
    const objects = `${this.claimCheckBucket.bucketArn}/${CLAIM_CHECK.keyPrefix}*`;
    const objectsReason = `Claim checks get a random key per event under ${CLAIM_CHECK.keyPrefix}; the grant is scoped to that prefix of this one bucket.`;

    const tiledesk = props.tiledesk ?? {};
    this.ingestFunction = new WebhookFunction(this, 'IngestApi', {
      handlerFile: 'ingest-api',
      description: 'Events over HTTPS to the bus: Tiledesk ingest, POST /{projectId}/events; claim checks over 256 KB',
      // Tiledesk waits on operator.select for as long as the hook may take.
      timeout: Duration.seconds(operatorSelectFunctionTimeoutSeconds(operatorSelectTimeoutMs)),
      environment: {
        EVENT_BUS_NAME: props.busReference,
        CLAIM_CHECK_BUCKET: this.claimCheckBucket.bucketName,
        TARGET_ALLOWLIST: props.targetAllowlist ?? '',
        // operator.select through ingest: the same hook budget and attempt-log retention as the API's route.
        OPERATOR_SELECT_TIMEOUT_MS: String(operatorSelectTimeoutMs),
        ATTEMPT_LOG_TTL_DAYS: String(attemptLogTtlDays),
        ...tiledeskIngestEnvironment(tiledesk),
        [REQUEST_LIMITS.projectEvents.setting]: formatRequestLimit(props.projectEventsLimit ?? REQUEST_LIMITS.projectEvents.defaults),
        [REQUEST_LIMITS.ingestSource.setting]: formatRequestLimit(props.ingestSourceLimit ?? REQUEST_LIMITS.ingestSource.defaults),
      },
    }).bindTable(props.table, {
      // PutItem/DeleteItem: the retry marker of each request; Query (its guard), GetItem and
      // BatchWriteItem: the operator.select hook and its attempt log; UpdateItem (and GetItem):
      // the per-project and per-source request limits.
      table: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
      indexes: LEGACY_TOPIC_INDEX_QUERY,
    });
    props.bus.grantPutEventsTo(this.ingestFunction.function);
    const secretArns = [tiledesk.globalSecretArn, tiledesk.hookSecretArn].filter((arn): arn is string => Boolean(arn));
    if (secretArns.length > 0) {
      Grant.addToPrincipal({ grantee: this.ingestFunction.function, actions: ['secretsmanager:GetSecretValue'], resourceArns: secretArns });
    }
    Grant.addToPrincipal({ grantee: this.ingestFunction.function, actions: ['s3:PutObject'], resourceArns: [objects] });
    acknowledge(this.ingestFunction, { [`AwsSolutions::AwsSolutions-IAM5[Resource::<${this.logicalIdOfBucket()}.Arn>/${CLAIM_CHECK.keyPrefix}*]`]: objectsReason });

    for (const reader of props.payloadReaders) {
      // The only bucket a claim check may name: a pointer published in a payload cannot choose it.
      reader.function.addEnvironment('CLAIM_CHECK_BUCKET', this.claimCheckBucket.bucketName);
      Grant.addToPrincipal({ grantee: reader.function, actions: ['s3:GetObject'], resourceArns: [objects] });
      acknowledge(reader, { [`AwsSolutions::AwsSolutions-IAM5[Resource::<${this.logicalIdOfBucket()}.Arn>/${CLAIM_CHECK.keyPrefix}*]`]: objectsReason });
    }

    const integration = new HttpLambdaIntegration('IngestIntegration', this.ingestFunction.function);
    const [method, path] = TILEDESK_INGEST_ROUTE.split(' ') as [keyof typeof HttpMethod, string];
    const routes = props.httpApi.addRoutes({
      path,
      methods: [HttpMethod[method]],
      integration,
      // Tiledesk authenticates with the token in the body and x-hook-secret, never an API token.
      authorizer: new HttpNoneAuthorizer(),
    });
    // Publishing takes the platform token (an example, an owner's or admin's): the API's own
    // authorizer, as every other route.
    for (const publishRoute of [PUBLISH_EVENTS_ROUTE, PUBLISH_EXAMPLE_ROUTE]) {
      const [publishMethod, publishPath] = publishRoute.split(' ') as [keyof typeof HttpMethod, string];
      props.httpApi.addRoutes({ path: publishPath, methods: [HttpMethod[publishMethod]], integration });
    }
    // The route's own throttle, over the stage default that suits the subscription API. A stage
    // naming a route key that does not exist yet fails to deploy, hence the dependency.
    const stage = props.httpApi.defaultStage?.node.defaultChild as CfnStage | undefined;
    stage?.addPropertyOverride(`RouteSettings.${TILEDESK_INGEST_ROUTE}`, {
      ThrottlingBurstLimit: props.ingestThrottle?.burstLimit ?? INGEST_THROTTLE.burstLimit,
      ThrottlingRateLimit: props.ingestThrottle?.rateLimit ?? INGEST_THROTTLE.rateLimit,
    });
    for (const route of routes) {
      stage?.node.addDependency(route);
      acknowledge(route, {
        'AwsSolutions::AwsSolutions-APIG4':
          'Tiledesk cannot send an API token: the function verifies the JWT Tiledesk signs into every webhook body (and x-hook-secret) and refuses anything else with 401.',
      });
    }

    stackOutput(this, 'ClaimCheckBucketName', this.claimCheckBucket.bucketName, 'Payloads over 256 KB, kept until delivered');
  }

  /** The bucket's logical id, as cdk-nag names it in a finding's resource. */
  private logicalIdOfBucket(): string {
    return this.claimCheckBucket.stack.getLogicalId(this.claimCheckBucket.node.defaultChild as import('aws-cdk-lib').CfnElement);
  }
}
