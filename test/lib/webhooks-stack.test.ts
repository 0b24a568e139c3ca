import { Match } from 'aws-cdk-lib/assertions';
import { CONSOLE_ROUTES, OPENAPI_ROUTE, OPERATOR_SELECT_ROUTE, PUBLISH_EVENTS_ROUTE, PUBLISH_EXAMPLE_ROUTE, SUBSCRIPTION_ROUTES, TILEDESK_INGEST_ROUTE } from '../../lambdas/core/settings';
import { CfnResource, StackTemplate, actionsOf, getAtt, ref, resourcesAllowing } from './stack-template';

let stack: StackTemplate;

beforeAll(() => {
  stack = StackTemplate.synth();
});

/** The environment variable only each function of the service has, naming it. */
const FUNCTIONS_BY_ENV = {
  authorizer: 'JWT_SECRET_ARN',
  subscriptions: 'SUBSCRIPTION_LIMIT',
  // Tiledesk ingest calls the hook too, with the same setting.
  operatorSelect: 'OPERATOR_SELECT_TIMEOUT_MS,!EVENT_BUS_NAME',
  fanOut: 'FAN_OUT_QUEUE_URL',
  delivery: 'DELIVERY_LANE=fast',
  slowDelivery: 'DELIVERY_LANE=slow',
  ingest: 'EVENT_BUS_NAME',
  publicContent: 'CONSOLE_DIR',
} as const;

describe('webhooks table', () => {
  it('is keyed by pk/sk, on demand, with point-in-time recovery, encryption and a TTL', () => {
    stack.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    stack.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
      SSESpecification: Match.objectLike({ SSEEnabled: true }),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('keeps only the unused keys-only topic index, one more release for upgrades: the fan-out reads the guards consistently, a history merges logs', () => {
    stack.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byTopic', Projection: { ProjectionType: 'KEYS_ONLY' } })],
    });
  });

  it('is retained when the stack is deleted, by default', () => {
    stack.template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    // The claim-check bucket too: a stack deletion would fail on a bucket that still holds objects.
    stack.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('functions', () => {
  it('are the authorizer, subscriptions, operator.select, fan-out, the two delivery lanes and public content, one of each', () => {
    const ids = Object.values(FUNCTIONS_BY_ENV).map((variable) => stack.functionIdWithEnv(variable));
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.keys(stack.resources('AWS::Lambda::Function')).sort()).toEqual([...ids].sort());
  });

  it('all run Node.js 22 on arm64, untraced unless tracing is asked for', () => {
    const functions = Object.values(stack.resources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(Object.keys(FUNCTIONS_BY_ENV).length);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Environment: { Variables: expect.objectContaining({ POWERTOOLS_TRACE_ENABLED: 'false' }) },
      });
      expect(fn.Properties).not.toHaveProperty('TracingConfig');
    }
  });

  it('all trace to X-Ray with tracing on', () => {
    const traced = StackTemplate.synth({ tracing: true });
    const functions = Object.values(traced.resources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(Object.keys(FUNCTIONS_BY_ENV).length);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        TracingConfig: { Mode: 'Active' },
        Environment: { Variables: expect.objectContaining({ POWERTOOLS_TRACE_ENABLED: 'true' }) },
      });
    }
  });
});

describe('subscription API', () => {
  it('is an HTTP API', () => {
    stack.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    stack.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
  });

  it('has a REQUEST authorizer with simple responses, backed by the authorizer function', () => {
    stack.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    stack.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
    });
    const [authorizer] = Object.values(stack.resources('AWS::ApiGatewayV2::Authorizer')) as [CfnResource];
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(`"${stack.functionIdWithEnv(FUNCTIONS_BY_ENV.authorizer)}"`);
  });

  it('declares one route per entry of SUBSCRIPTION_ROUTES, the operator.select and the publish routes, each behind the authorizer', () => {
    const authorizerId = stack.onlyLogicalId('AWS::ApiGatewayV2::Authorizer', {});
    const all = Object.values(stack.resources('AWS::ApiGatewayV2::Route'));
    // Tiledesk's ingest authenticates by the token in its body; the OpenAPI document and the
    // console are public files: the routes without the authorizer.
    const publicRoutes: string[] = [TILEDESK_INGEST_ROUTE, OPENAPI_ROUTE, ...CONSOLE_ROUTES];
    const unauthorized = all.filter((route) => publicRoutes.includes(route.Properties.RouteKey as string));
    expect(unauthorized.map((route) => route.Properties.AuthorizationType)).toEqual(publicRoutes.map(() => 'NONE'));
    const routes = all.filter((route) => !publicRoutes.includes(route.Properties.RouteKey as string));
    expect(routes.map((route) => route.Properties.RouteKey).sort()).toEqual(
      [...SUBSCRIPTION_ROUTES, OPERATOR_SELECT_ROUTE, PUBLISH_EVENTS_ROUTE, PUBLISH_EXAMPLE_ROUTE].sort(),
    );
    for (const route of routes) {
      expect(route.Properties).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
    }
  });

  it('serves the OpenAPI document and the console without the authorizer, from their own function', () => {
    const publicContent = stack.functionIdWithEnv(FUNCTIONS_BY_ENV.publicContent);
    for (const routeKey of [OPENAPI_ROUTE, ...CONSOLE_ROUTES]) {
      const route = stack.resource('AWS::ApiGatewayV2::Route', stack.onlyLogicalId('AWS::ApiGatewayV2::Route', { RouteKey: routeKey }));
      expect(route.Properties.AuthorizationType).toBe('NONE');
      expect(route.Properties).not.toHaveProperty('AuthorizerId');
      const integrationId = (route.Properties.Target as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1][1] as { Ref: string };
      const integration = stack.resource('AWS::ApiGatewayV2::Integration', integrationId.Ref);
      expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(`"${publicContent}"`);
    }
  });

  it('keeps a generated JWT secret in Secrets Manager', () => {
    stack.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    stack.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: Match.anyValue() }),
    });
    const [secret] = Object.values(stack.resources('AWS::SecretsManager::Secret')) as [CfnResource];
    const generated = secret.Properties.GenerateSecretString as { PasswordLength: number };
    expect(generated.PasswordLength).toBeGreaterThanOrEqual(32);
  });
});

describe('queues', () => {
  /** SQS defaults when a queue does not say: 30 s visibility, 4 days retention; Lambda's timeout default is 3 s. */
  const visibilityOf = (queueId: string): number =>
    (stack.resource('AWS::SQS::Queue', queueId).Properties.VisibilityTimeout as number | undefined) ?? 30;
  const retentionOf = (queueId: string): number =>
    (stack.resource('AWS::SQS::Queue', queueId).Properties.MessageRetentionPeriod as number | undefined) ?? 4 * 24 * 3600;

  it('are six: fan-out, the two delivery lanes, the DLQs of fan-out and delivery, and the rule DLQ', () => {
    const fanOutQueue = stack.queueConsumedBy(stack.functionIdWithEnv(FUNCTIONS_BY_ENV.fanOut));
    const deliveryQueue = stack.queueConsumedBy(stack.functionIdWithEnv(FUNCTIONS_BY_ENV.delivery));
    const slowQueue = stack.queueConsumedBy(stack.functionIdWithEnv(FUNCTIONS_BY_ENV.slowDelivery));
    expect(stack.deadLetterQueueOf(slowQueue)).toBe(stack.deadLetterQueueOf(deliveryQueue));
    const expected = [
      fanOutQueue,
      stack.deadLetterQueueOf(fanOutQueue),
      deliveryQueue,
      slowQueue,
      stack.deadLetterQueueOf(deliveryQueue),
      stack.ruleDeadLetterQueue(),
    ];
    expect(new Set(expected).size).toBe(6);
    expect(Object.keys(stack.resources('AWS::SQS::Queue')).sort()).toEqual(expected.sort());
  });

  it('are all encrypted with SQS-managed keys and refuse plain HTTP', () => {
    for (const queueId of Object.keys(stack.resources('AWS::SQS::Queue'))) {
      expect({ queueId, ...stack.resource('AWS::SQS::Queue', queueId).Properties }).toMatchObject({
        queueId,
        SqsManagedSseEnabled: true,
      });
      expect(stack.queuePolicyStatementsOf(queueId)).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('each hide a received message at least as long as the function consuming it may run', () => {
    const mappings = Object.values(stack.resources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(3);
    for (const mapping of mappings) {
      const functionId = (mapping.Properties.FunctionName as { Ref: string }).Ref;
      const queueId = stack.queueConsumedBy(functionId);
      const timeout = (stack.resource('AWS::Lambda::Function', functionId).Properties.Timeout as number | undefined) ?? 3;
      expect({ queueId, visibility: visibilityOf(queueId) >= timeout }).toEqual({ queueId, visibility: true });
    }
  });

  it('each keep a message in the DLQ longer than in the queue it came from', () => {
    // A dead-lettered message keeps its first enqueue time, so a shorter DLQ retention would drop it at once.
    for (const queueId of Object.keys(stack.resources('AWS::SQS::Queue'))) {
      if (!stack.resource('AWS::SQS::Queue', queueId).Properties.RedrivePolicy) continue;
      const dlqId = stack.deadLetterQueueOf(queueId);
      expect({ queueId, longer: retentionOf(dlqId) > retentionOf(queueId) }).toEqual({ queueId, longer: true });
    }
  });
});

describe('least privilege', () => {
  it('lets the authorizer read the JWT secret and nothing of DynamoDB', () => {
    const secretId = stack.onlyLogicalId('AWS::SecretsManager::Secret', {});
    const statements = stack.statementsOf(stack.functionWithEnv(FUNCTIONS_BY_ENV.authorizer));
    expect(resourcesAllowing(statements, 'secretsmanager:GetSecretValue')).toEqual([JSON.stringify(ref(secretId))]);
    expect(actionsOf(statements).filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
  });

  it('lets the subscriptions function use the table and nothing of Secrets Manager', () => {
    const tableId = stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {});
    const statements = stack.statementsOf(stack.functionWithEnv(FUNCTIONS_BY_ENV.subscriptions));
    const tableStatements = statements.filter((statement) =>
      JSON.stringify(statement.Resource).includes(`"${tableId}"`),
    );
    expect(actionsOf(tableStatements)).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem']),
    );
    expect(actionsOf(statements).filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('lets no function but the authorizer touch Secrets Manager', () => {
    // The public-content function has no policy at all (test/lib/iam.test.ts).
    const { authorizer, publicContent, ...others } = FUNCTIONS_BY_ENV;
    expect(actionsOf(stack.statementsOf(stack.functionWithEnv(authorizer)))).toContain('secretsmanager:GetSecretValue');
    for (const variable of Object.values(others)) {
      const actions = actionsOf(stack.statementsOf(stack.functionWithEnv(variable)));
      expect({ variable, secretActions: actions.filter((action) => action.startsWith('secretsmanager:')) }).toEqual({
        variable,
        secretActions: [],
      });
    }
  });

  it.each([
    ['subscriptions', FUNCTIONS_BY_ENV.subscriptions],
    ['operator.select', FUNCTIONS_BY_ENV.operatorSelect],
    ['fan-out', FUNCTIONS_BY_ENV.fanOut],
    ['delivery', FUNCTIONS_BY_ENV.delivery],
    ['slow-lane delivery', FUNCTIONS_BY_ENV.slowDelivery],
  ])('gives the %s function the name of the table it was granted', (_name, variable) => {
    const tableId = stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {});
    expect(stack.environmentOf(variable).TABLE_NAME).toEqual(ref(tableId));
    expect(JSON.stringify(stack.statementsOf(stack.functionWithEnv(variable)))).toContain(`"${tableId}"`);
  });
});

describe('outputs', () => {
  const fanOutQueue = (): string => stack.queueConsumedBy(stack.functionIdWithEnv(FUNCTIONS_BY_ENV.fanOut));
  const deliveryQueue = (): string => stack.queueConsumedBy(stack.functionIdWithEnv(FUNCTIONS_BY_ENV.delivery));
  const bus = (): string => stack.onlyLogicalId('AWS::Events::EventBus', {});

  it.each<[string, () => unknown]>([
    ['ApiUrl', () => getAtt(stack.onlyLogicalId('AWS::ApiGatewayV2::Api', {}), 'ApiEndpoint')],
    ['JwtSecretArn', () => ref(stack.onlyLogicalId('AWS::SecretsManager::Secret', {}))],
    ['TableName', () => ref(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {}))],
    ['EventBusName', () => ref(bus())],
    ['EventBusArn', () => getAtt(bus())],
    ['FanOutQueueUrl', () => ref(fanOutQueue())],
    ['FanOutDlqUrl', () => ref(stack.deadLetterQueueOf(fanOutQueue()))],
    ['EventRuleDlqUrl', () => ref(stack.ruleDeadLetterQueue())],
    ['DeliveryQueueUrl', () => ref(deliveryQueue())],
    ['DeliveryDlqUrl', () => ref(stack.deadLetterQueueOf(deliveryQueue()))],
  ])('exports %s under exactly that logical id', (name, expectedValue) => {
    stack.template.hasOutput(name, { Value: expectedValue() });
  });

  it('names no output with a construct-path hash', () => {
    const hashed = Object.keys(stack.template.findOutputs('*')).filter((id) => /[0-9A-F]{8}$/.test(id));
    expect(hashed).toEqual([]);
  });
});
