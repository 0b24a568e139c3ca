import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { SUBSCRIPTION_ROUTES } from '../../lib/settings';
import { WebhooksStack } from '../../lib/webhooks-stack';

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

let template: Template;

beforeAll(() => {
  // An empty bundling-stacks list makes NodejsFunction skip esbuild: the template is all we test.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  template = Template.fromStack(new WebhooksStack(app, 'Test'));
});

function resources(type: string): Record<string, CfnResource> {
  return template.findResources(type) as Record<string, CfnResource>;
}

function onlyLogicalId(type: string, props: object): string {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

/** The logical id of the function whose environment has the given variable. */
function functionIdWithEnv(variable: string): string {
  return onlyLogicalId('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ [variable]: Match.anyValue() }) },
  });
}

function functionWithEnv(variable: string): CfnResource {
  return resources('AWS::Lambda::Function')[functionIdWithEnv(variable)] as CfnResource;
}

/** Every statement of every IAM policy attached to the function's execution role. */
function statementsOf(fn: CfnResource): PolicyStatement[] {
  const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
  const roleId = role['Fn::GetAtt'][0];
  const policies = Object.values(resources('AWS::IAM::Policy')).filter((policy) =>
    (policy.Properties.Roles as unknown[]).some((ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleId })),
  );
  expect(policies.length).toBeGreaterThan(0);
  return policies.flatMap(
    (policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement,
  );
}

const actionsOf = (statements: PolicyStatement[]): string[] =>
  statements.flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));

describe('webhooks table', () => {
  it('is keyed by pk/sk, on demand, with point-in-time recovery, encryption and a TTL', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
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

  it('has the sparse keys-only topic index and the project history index', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({ IndexName: 'byTopic', Projection: { ProjectionType: 'KEYS_ONLY' } }),
        Match.objectLike({
          IndexName: 'byProjectHistory',
          KeySchema: [
            { AttributeName: 'gsi2pk', KeyType: 'HASH' },
            { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });

  it('is retained when the stack is deleted, by default', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('functions', () => {
  it('all run Node.js 22 on arm64 with active tracing', () => {
    const functions = Object.values(resources('AWS::Lambda::Function'));
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
    }
  });
});

describe('subscription API', () => {
  it('is an HTTP API', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
  });

  it('has a REQUEST authorizer with simple responses, backed by the authorizer function', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
    });
    const [authorizer] = Object.values(resources('AWS::ApiGatewayV2::Authorizer')) as [CfnResource];
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(`"${functionIdWithEnv('JWT_SECRET_ARN')}"`);
  });

  it('declares one route per entry of SUBSCRIPTION_ROUTES, each behind the authorizer', () => {
    const authorizerId = onlyLogicalId('AWS::ApiGatewayV2::Authorizer', {});
    const routes = Object.values(resources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((route) => route.Properties.RouteKey).sort()).toEqual([...SUBSCRIPTION_ROUTES].sort());
    for (const route of routes) {
      expect(route.Properties).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
    }
  });

  it('keeps a generated JWT secret in Secrets Manager', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: Match.anyValue() }),
    });
    const [secret] = Object.values(resources('AWS::SecretsManager::Secret')) as [CfnResource];
    const generated = secret.Properties.GenerateSecretString as { PasswordLength: number };
    expect(generated.PasswordLength).toBeGreaterThanOrEqual(32);
  });
});

describe('least privilege', () => {
  it('lets the authorizer read the JWT secret and nothing of DynamoDB', () => {
    const secretId = onlyLogicalId('AWS::SecretsManager::Secret', {});
    const statements = statementsOf(functionWithEnv('JWT_SECRET_ARN'));
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Action: expect.arrayContaining(['secretsmanager:GetSecretValue']),
        Resource: { Ref: secretId },
      }),
    );
    expect(actionsOf(statements).filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
  });

  it('lets the subscriptions function use the table and nothing of Secrets Manager', () => {
    const tableId = onlyLogicalId('AWS::DynamoDB::GlobalTable', {});
    const statements = statementsOf(functionWithEnv('TABLE_NAME'));
    const tableStatements = statements.filter((statement) =>
      JSON.stringify(statement.Resource).includes(`"${tableId}"`),
    );
    expect(actionsOf(tableStatements)).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem']),
    );
    expect(actionsOf(statements).filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('gives the subscriptions function the table name it was granted', () => {
    const tableId = onlyLogicalId('AWS::DynamoDB::GlobalTable', {});
    const fn = functionWithEnv('TABLE_NAME');
    expect(fn.Properties).toMatchObject({ Environment: { Variables: { TABLE_NAME: { Ref: tableId } } } });
  });
});

describe('outputs', () => {
  it.each([
    ['ApiUrl', 'AWS::ApiGatewayV2::Api'],
    ['JwtSecretArn', 'AWS::SecretsManager::Secret'],
    ['TableName', 'AWS::DynamoDB::GlobalTable'],
  ])('exports %s, pointing at the %s', (name, type) => {
    const outputs = Object.entries(template.findOutputs('*')).filter(([id]) => id.includes(name));
    expect(outputs).toHaveLength(1);
    const [, output] = outputs[0] as [string, { Value: unknown }];
    expect(JSON.stringify(output.Value)).toContain(`"${onlyLogicalId(type, {})}"`);
  });
});
