import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpNoneAuthorizer, HttpRoute, IHttpRouteAuthorizer, ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { stackOutput } from './stack-output';
import { RequestLimit, formatRequestLimit } from '../lambdas/core/request-limit';
import { API, API_THROTTLE, CONSOLE_ROUTES, CORS, DELIVERY, OPENAPI_ROUTE, OPERATOR_SELECT_ROUTE, REQUEST_LIMITS, SUBSCRIPTIONS_FUNCTION, SUBSCRIPTION_ROUTES } from '../lambdas/core/settings';
import { checkPublicKey, checkSecretArn } from './setting-checks';
import { assertTimeoutsFit, operatorSelectFunctionTimeoutSeconds } from './timeout-budget';
import { consoleBundling } from './console-build';
import { LEGACY_TOPIC_INDEX_QUERY, WebhookFunction, acknowledge } from './webhook-function';

/** Props of {@link SubscriptionApi}. */
export interface SubscriptionApiProps {
  readonly table: ITable;
  /** Where recovered and replayed deliveries are sent. */
  readonly deliveryQueue: IQueue;
  /** Per-attempt delivery timeout; test pings never wait longer. @default 10 s */
  readonly deliveryTimeoutMs?: number;
  /** How long a test ping may wait for its target. @default 5 s */
  readonly testPingTimeoutMs?: number;
  /** How long the operator.select hook may take. @default 5 s */
  readonly operatorSelectTimeoutMs?: number;
  /** Accept `http://` targets. @default false */
  readonly allowHttpTargets?: boolean;
  /** Comma-separated CIDRs and host names exempt from the private-address refusal. @default '' */
  readonly targetAllowlist?: string;
  /** @default 100 */
  readonly subscriptionLimit?: number;
  /** Stage throttling. @default burst 100, rate 50 requests/s */
  readonly throttle?: ThrottleSettings;
  /** Each project's share of the subscription API, kept in the table. @default 10/s, burst 40 */
  readonly projectApiLimit?: RequestLimit;
  /** The rate of each project's operator.select calls over HTTP (its events' rate, counted apart). @default 25/s, burst 100 */
  readonly projectEventsLimit?: RequestLimit;
  /**
   * `https://` URL of an identity provider's JSON Web Key Set: the authorizer then also accepts
   * RS256 tokens signed by one of its keys (HS256 tokens keep working). @default HS256 only
   */
  readonly jwksUrl?: string;
  /** `iss` that every API token (HS256 and RS256) must carry. @default not checked */
  readonly jwtIssuer?: string;
  /** A value every API token's `aud` must contain. @default not checked */
  readonly jwtAudience?: string;
  /** Tiledesk sign-in: Tiledesk user tokens accepted, roles asked of Tiledesk. @default off */
  readonly tiledeskSignIn?: TiledeskSignInProps;
  /** Browser origins allowed by CORS (e.g. Tiledesk's dashboard). @default none: no CORS */
  readonly corsOrigins?: readonly string[];
}

/** How the authorizer verifies Tiledesk's user tokens and where it asks for their roles. */
export interface TiledeskSignInProps {
  /** Tiledesk's API base URL (`https://`), asked `GET /{projectId}/project_users/me`. */
  readonly apiUrl: string;
  /** ARN of a Secrets Manager secret holding Tiledesk's HS256 `GLOBAL_SECRET`. */
  readonly jwtSecretArn?: string;
  /** PEM of the RS256 public key matching Tiledesk's `GLOBAL_SECRET_OR_PRIVATE_KEY`. */
  readonly jwtPublicKey?: string;
}

/**
 * The HTTPS subscription API (DESIGN §3): an HTTP API whose every route passes a Lambda
 * authorizer (HS256 JWT, secret generated at deploy in Secrets Manager; RS256 JWT of an
 * identity provider too when `jwksUrl` is set) and lands in the subscriptions function.
 */
export class SubscriptionApi extends Construct {
  readonly httpApi: HttpApi;
  readonly jwtSecret: Secret;
  readonly authorizerFunction: WebhookFunction;
  readonly apiFunction: WebhookFunction;
  /** Also invokable directly (Lambda Invoke with the routing payload) by a platform inside AWS. */
  readonly operatorSelectFunction: WebhookFunction;
  /** Serves the OpenAPI document and the web console's files, without a token. */
  readonly publicContentFunction: WebhookFunction;

  constructor(scope: Construct, id: string, props: SubscriptionApiProps) {
    super(scope, id);
    // A call that outlives its function ends in a 5xx with no attempt logged: refuse it at synth.
    assertTimeoutsFit(props);
    this.jwtSecret = new Secret(this, 'JwtSecret', {
      description: 'HS256 signing secret of tiledesk-webhooks API tokens',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });

    const authorizerFunction = (this.authorizerFunction = new WebhookFunction(this, 'Authorizer', {
      handlerFile: 'authorizer',
      description: props.jwksUrl ? 'Verifies API tokens (HS256 JWT, RS256 JWT from the JWKS)' : 'Verifies API tokens (HS256 JWT)',
      environment: {
        JWT_SECRET_ARN: this.jwtSecret.secretArn,
        ...identityProviderEnvironment(props),
        ...tiledeskSignInEnvironment(props.tiledeskSignIn),
      },
    }));
    if (props.tiledeskSignIn?.jwtSecretArn) {
      Grant.addToPrincipal({
        grantee: authorizerFunction.function,
        actions: ['secretsmanager:GetSecretValue'],
        resourceArns: [props.tiledeskSignIn.jwtSecretArn],
      });
    }
    // GetSecretValue only: grantRead would add DescribeSecret, which the authorizer never calls.
    Grant.addToPrincipal({
      grantee: authorizerFunction.function,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [this.jwtSecret.secretArn],
    });
    acknowledge(this, {
      'AwsSolutions::AwsSolutions-SMG4':
        'No rotation Lambda: an HMAC key has no service to re-key, so it is rotated by hand with put-secret-value; the authorizer re-reads it within minutes and accepts the previous one for an overlap (docs/security.md: Rotating the token signing secret).',
    });

    this.apiFunction = new WebhookFunction(this, 'Subscriptions', {
      handlerFile: 'subscriptions-api',
      description: 'Subscription API: create, list, get, update, delete, logs',
      timeout: Duration.seconds(SUBSCRIPTIONS_FUNCTION.timeoutSeconds),
      environment: {
        ALLOW_HTTP_TARGETS: String(props.allowHttpTargets ?? false),
        TARGET_ALLOWLIST: props.targetAllowlist ?? '',
        SUBSCRIPTION_LIMIT: String(props.subscriptionLimit ?? API.subscriptionLimitPerProject),
        DELIVERY_QUEUE_URL: props.deliveryQueue.queueUrl,
        DELIVERY_TIMEOUT_MS: String(props.deliveryTimeoutMs ?? DELIVERY.timeoutMs),
        TEST_PING_TIMEOUT_MS: String(props.testPingTimeoutMs ?? SUBSCRIPTIONS_FUNCTION.testPingTimeoutMs),
        [REQUEST_LIMITS.projectApi.setting]: formatRequestLimit(props.projectApiLimit ?? REQUEST_LIMITS.projectApi.defaults),
      },
    })
      .bindTable(props.table, {
        // Creation and updates are conditional writes of the subscription, its uniqueness guard
        // and the project's counter; BatchWriteItem logs test pings; Query lists subscriptions
        // and a subscription's logs (base table) and a project's history (its keys-only index,
        // whose attempts BatchGetItem then reads).
        table: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
        ],
      })
      .grantSendTo(props.deliveryQueue);

    this.operatorSelectFunction = new WebhookFunction(this, 'OperatorSelect', {
      handlerFile: 'operator-select',
      description: 'operator.select: asks the project hook to choose agents, default routing otherwise',
      timeout: Duration.seconds(operatorSelectFunctionTimeoutSeconds(props.operatorSelectTimeoutMs ?? DELIVERY.operatorSelectTimeoutMs)),
      environment: {
        TARGET_ALLOWLIST: props.targetAllowlist ?? '',
        OPERATOR_SELECT_TIMEOUT_MS: String(props.operatorSelectTimeoutMs ?? DELIVERY.operatorSelectTimeoutMs),
        // Calls over HTTP count against a share of the project's own (the events' rate, apart).
        [REQUEST_LIMITS.projectEvents.setting]: formatRequestLimit(props.projectEventsLimit ?? REQUEST_LIMITS.projectEvents.defaults),
      },
    }).bindTable(props.table, {
      // The project's hook: its id from its uniqueness guard (Query), then the subscription;
      // then the attempt log (BatchWriteItem, and PutItem item by item when DynamoDB refuses
      // the batch); UpdateItem (and GetItem): the project's request limit.
      table: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      indexes: LEGACY_TOPIC_INDEX_QUERY,
    });

    const authorizer = new HttpLambdaAuthorizer('TokenAuthorizer', authorizerFunction.function, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      // No identity source and no cache: the authorizer runs on every request, so a missing
      // token reaches the API function and gets the contract's 401 body.
      identitySource: [],
      resultsCacheTtl: Duration.seconds(0),
    });

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'tiledesk-webhooks subscription API',
      defaultAuthorizer: authorizer,
      createDefaultStage: true,
      // API Gateway answers preflights itself, before the authorizer.
      corsPreflight: props.corsOrigins?.length
        ? {
            allowOrigins: [...props.corsOrigins],
            allowMethods: CORS.allowMethods.map((method) => CorsHttpMethod[method]),
            allowHeaders: [...CORS.allowHeaders],
            exposeHeaders: [...CORS.exposeHeaders],
            maxAge: Duration.seconds(CORS.maxAgeSeconds),
          }
        : undefined,
    });
    const stage = this.httpApi.defaultStage?.node.defaultChild as
      | import('aws-cdk-lib/aws-apigatewayv2').CfnStage
      | undefined;
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    if (stage) {
      stage.accessLogSettings = {
        destinationArn: accessLogs.logGroupArn,
        // No headers: the Authorization header (a bearer token) must never reach a log.
        format: JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          requestTime: '$context.requestTime',
          routeKey: '$context.routeKey',
          status: '$context.status',
          latency: '$context.responseLatency',
          integrationError: '$context.integrationErrorMessage',
        }),
      };
    }
    stage?.addPropertyOverride('DefaultRouteSettings', {
      ThrottlingBurstLimit: props.throttle?.burstLimit ?? API_THROTTLE.burstLimit,
      ThrottlingRateLimit: props.throttle?.rateLimit ?? API_THROTTLE.rateLimit,
    });

    const integration = new HttpLambdaIntegration('SubscriptionsIntegration', this.apiFunction.function);
    for (const route of SUBSCRIPTION_ROUTES) this.addRoute(route, integration);
    this.addRoute(
      OPERATOR_SELECT_ROUTE,
      new HttpLambdaIntegration('OperatorSelectIntegration', this.operatorSelectFunction.function),
    );

    // Static, public content: the document describes the API and the console is files; every
    // call the console then makes carries the user's token through the authorizer.
    this.publicContentFunction = new WebhookFunction(this, 'PublicContent', {
      handlerFile: 'public-content',
      description: 'Serves /openapi.json and the web console (/console), no token',
      // The console's build, put beside the handler by the bundling hook.
      environment: { CONSOLE_DIR: 'console' },
      commandHooks: consoleBundling(),
    });
    const publicIntegration = new HttpLambdaIntegration('PublicContentIntegration', this.publicContentFunction.function);
    for (const route of [OPENAPI_ROUTE, ...CONSOLE_ROUTES]) {
      for (const publicRoute of this.addRoute(route, publicIntegration, new HttpNoneAuthorizer())) {
        acknowledge(publicRoute, {
          'AwsSolutions::AwsSolutions-APIG4':
            'GET /openapi.json and the /console files are public static content with no data; every data route keeps the token authorizer.',
        });
      }
    }

    stackOutput(this, 'ConsoleUrl', `${this.httpApi.apiEndpoint}/console`, 'The web console (sign in with an API token)');
    stackOutput(this, 'OperatorSelectFunctionArn', this.operatorSelectFunction.function.functionArn, 'Invoke directly with the routing payload');
    stackOutput(this, 'ApiUrl', this.httpApi.apiEndpoint, 'Subscription API base URL');
    stackOutput(this, 'JwtSecretArn', this.jwtSecret.secretArn, 'Secrets Manager ARN of the API token signing secret');
  }

  private addRoute(route: string, integration: HttpLambdaIntegration, authorizer?: IHttpRouteAuthorizer): HttpRoute[] {
    const [method, path] = route.split(' ') as [keyof typeof HttpMethod, string];
    return this.httpApi.addRoutes({ path, methods: [HttpMethod[method]], integration, authorizer });
  }
}

/**
 * The authorizer's token settings: `JWKS_URL` (RS256 of an identity provider), and `JWT_ISSUER`
 * and `JWT_AUDIENCE`, which every token, HS256 or RS256, must then carry. Throws at synth for a
 * key set URL that is not `https://`.
 */
function identityProviderEnvironment(props: SubscriptionApiProps): Record<string, string> {
  const { jwksUrl, jwtIssuer, jwtAudience } = props;
  if (jwksUrl && (!URL.canParse(jwksUrl) || new URL(jwksUrl).protocol !== 'https:')) {
    throw new Error(`jwksUrl must be an https:// URL; got ${jwksUrl}`);
  }
  return {
    ...(jwksUrl ? { JWKS_URL: jwksUrl } : {}),
    ...(jwtIssuer ? { JWT_ISSUER: jwtIssuer } : {}),
    ...(jwtAudience ? { JWT_AUDIENCE: jwtAudience } : {}),
  };
}

/**
 * The authorizer's Tiledesk sign-in settings, none when it is off. Throws at synth for an API
 * URL that is not `https://` and for sign-in without any key to verify Tiledesk's tokens.
 */
function tiledeskSignInEnvironment(signIn: TiledeskSignInProps | undefined): Record<string, string> {
  if (!signIn) return {};
  if (!URL.canParse(signIn.apiUrl) || new URL(signIn.apiUrl).protocol !== 'https:') {
    throw new Error(`tiledeskApiUrl (tiledeskSignIn.apiUrl) must be an https:// URL; got ${signIn.apiUrl}`);
  }
  if (!signIn.jwtSecretArn && !signIn.jwtPublicKey) {
    throw new Error(
      'tiledeskApiUrl needs tiledeskJwtSecretArn (HS256) or tiledeskJwtPublicKey (RS256) to verify Tiledesk tokens (tiledeskSignIn.jwtSecretArn / jwtPublicKey)',
    );
  }
  checkSecretArn('tiledeskJwtSecretArn', signIn.jwtSecretArn);
  checkPublicKey('tiledeskJwtPublicKey', signIn.jwtPublicKey);
  return {
    TILEDESK_API_URL: signIn.apiUrl,
    ...(signIn.jwtSecretArn ? { TILEDESK_JWT_SECRET_ARN: signIn.jwtSecretArn } : {}),
    ...(signIn.jwtPublicKey ? { TILEDESK_JWT_PUBLIC_KEY: signIn.jwtPublicKey } : {}),
  };
}
