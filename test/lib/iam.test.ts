import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { WebhookFunction } from '../../lib/webhook-function';
import { WebhooksStack } from '../../lib/webhooks-stack';
import { CfnResource, PolicyStatement, getAtt, ref, resourcesAllowing } from './stack-template';

/**
 * What one function's role may do: readable resource → the actions allowed on it. Resources are
 * written with construct paths (`Store/Table.Arn`, `Api/JwtSecret`) instead of logical ids.
 */
type Grants = Record<string, string[]>;

/** With tracing on (`-c tracing=true`), each function also gets these, on `*`: X-Ray takes no resource-level permissions. */
const XRAY = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];

/** What each function's code sends to SQS: SendMessageBatch is authorized by sqs:SendMessage. */
const QUEUE_SEND = ['sqs:SendMessage'];

/** What an SQS event source gets (Queue.grantConsumeMessages). */
const QUEUE_CONSUME = [
  'sqs:ChangeMessageVisibility',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'sqs:ReceiveMessage',
];

/**
 * Both delivery lanes: subscriptions and their health read (BatchGetItem, GetItem after a lost
 * race), attempt logs written (BatchWriteItem; PutItem item by item when a batch is refused),
 * health, rate clock and dead streak updated, a 410 Gone's subscription deleted, deliveries an
 * open circuit holds parked (BatchWriteItem) and released (Query).
 */
const DELIVERY_TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

/**
 * Every function of the stack and everything its role may do, each action traced to a call in
 * `lambdas/` (handler → core → adapter). A function missing here, or a permission added to or
 * removed from any of them, fails the tests: review it against the code, then update this table.
 */
const EXPECTED_GRANTS: Record<string, Grants> = {
  'Api/Authorizer/Function': {
    'Api/JwtSecret': ['secretsmanager:GetSecretValue'],
  },
  'Api/Subscriptions/Function': {
    'Store/Table.Arn': [
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    'Delivery/Queue.Arn': QUEUE_SEND,
  },
  'Api/OperatorSelect/Function': {
    // The attempt log: BatchWriteItem, PutItem item by item when a batch is refused; UpdateItem:
    // the project's request limit for calls over HTTP.
    // Query: the project's hook from its uniqueness guard.
    'Store/Table.Arn': ['dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    // The unused topic index, granted one more release for an upgrade's old code.
    'Store/Table.Arn/index/byTopic': ['dynamodb:Query'],
  },
  'Events/FanOut/Function': {
    // Query: a topic's subscribers from their uniqueness guards (consistently); BatchWriteItem:
    // each event's payload, stored once for its attempts to refer to (docs/design.md §3.18).
    'Store/Table.Arn': ['dynamodb:BatchWriteItem', 'dynamodb:Query'],
    'Store/Table.Arn/index/byTopic': ['dynamodb:Query'],
    'Delivery/Queue.Arn': QUEUE_SEND,
    'Events/FanOutQueue.Arn': QUEUE_CONSUME,
  },
  // Serves static content: no grant beyond its logs.
  'Api/PublicContent/Function': {},
  'Delivery/Deliver/Function': {
    'Store/Table.Arn': DELIVERY_TABLE_ACTIONS,
    'Delivery/Queue.Arn': [...QUEUE_CONSUME, ...QUEUE_SEND].sort(),
    'Delivery/SlowQueue.Arn': QUEUE_SEND,
    'Delivery/Dlq.Arn': QUEUE_SEND,
    // Claim-checked payloads (over 256 KB), read back before the POST.
    'Ingest/ClaimChecks.Arn/events/*': ['s3:GetObject'],
  },
  'Delivery/DeliverSlow/Function': {
    'Store/Table.Arn': DELIVERY_TABLE_ACTIONS,
    'Delivery/Queue.Arn': QUEUE_SEND,
    'Delivery/SlowQueue.Arn': [...QUEUE_CONSUME, ...QUEUE_SEND].sort(),
    'Delivery/Dlq.Arn': QUEUE_SEND,
    'Ingest/ClaimChecks.Arn/events/*': ['s3:GetObject'],
  },
  'Ingest/IngestApi/Function': {
    // PutItem/DeleteItem: retry markers; Query (the hook's guard), GetItem, BatchWriteItem: the
    // operator.select hook and its log; UpdateItem (and GetItem): the per-project and per-source request limits.
    'Store/Table.Arn': ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    'Store/Table.Arn/index/byTopic': ['dynamodb:Query'],
    'Events/Bus.Arn': ['events:PutEvents'],
    'Ingest/ClaimChecks.Arn/events/*': ['s3:PutObject'],
  },
};

/** The functions that may send to each queue of the stack; EventBridge sends by queue policy. */
const EXPECTED_SENDERS: Record<string, string[]> = {
  'Delivery/Queue': ['Api/Subscriptions/Function', 'Delivery/Deliver/Function', 'Delivery/DeliverSlow/Function', 'Events/FanOut/Function'],
  'Delivery/SlowQueue': ['Delivery/Deliver/Function', 'Delivery/DeliverSlow/Function'],
  'Delivery/Dlq': ['Delivery/Deliver/Function', 'Delivery/DeliverSlow/Function'],
  'Events/FanOutQueue': [],
  'Events/FanOutDlq': [],
  'Events/RuleDlq': [],
};

const BASIC_EXECUTION_ROLE = 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

const LAMBDA_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
};

let template: Template;
/** Logical id → construct path under the stack, without the trailing `/Resource`. */
let pathOf: Map<string, string>;

beforeAll(() => {
  // An empty bundling-stacks list makes NodejsFunction skip esbuild: the template is all we test.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new WebhooksStack(app, 'Test');
  template = Template.fromStack(stack);
  pathOf = new Map(
    stack.node
      .findAll()
      .filter(CfnElement.isCfnElement)
      .map((element) => [
        stack.resolve(element.logicalId) as string,
        element.node.path.slice(`${stack.node.path}/`.length).replace(/\/Resource$/, ''),
      ]),
  );
});

const resourcesOf = (type: string): Record<string, CfnResource> => template.findResources(type) as Record<string, CfnResource>;

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function nameOf(logicalId: string): string {
  const path = pathOf.get(logicalId);
  if (path === undefined) throw new Error(`no construct for logical id ${logicalId}`);
  return path;
}

/** A resource expression in readable form; an intrinsic this does not know fails the test. */
function readable(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
  if (typeof intrinsic.Ref === 'string') {
    return intrinsic.Ref.startsWith('AWS::') ? `\${${intrinsic.Ref}}` : nameOf(intrinsic.Ref);
  }
  if (intrinsic['Fn::GetAtt']) {
    const [logicalId, attribute] = intrinsic['Fn::GetAtt'];
    return `${nameOf(logicalId)}.${attribute}`;
  }
  if (intrinsic['Fn::Join']) {
    const [separator, parts] = intrinsic['Fn::Join'];
    return parts.map(readable).join(separator);
  }
  throw new Error(`unexpected resource expression ${JSON.stringify(value)}`);
}

/** Function name (construct path) → logical id, for every function of the template. */
function functionIds(): Map<string, string> {
  return new Map(Object.keys(resourcesOf('AWS::Lambda::Function')).map((id) => [nameOf(id), id]));
}

function functionIdOf(name: string): string {
  const id = functionIds().get(name);
  if (id === undefined) throw new Error(`no function ${name}`);
  return id;
}

function roleIdOf(functionId: string): string {
  const role = resourcesOf('AWS::Lambda::Function')[functionId]?.Properties.Role as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
}

/** Every statement of every AWS::IAM::Policy attached to the role. */
function statementsOfRole(roleId: string): PolicyStatement[] {
  return Object.values(resourcesOf('AWS::IAM::Policy'))
    .filter((policy) => asList(policy.Properties.Roles).some((role) => JSON.stringify(role) === JSON.stringify(ref(roleId))))
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

const statementsOfFunction = (name: string): PolicyStatement[] => statementsOfRole(roleIdOf(functionIdOf(name)));

/** The (resource, action) pairs of the statements, grouped by resource, actions sorted and unique. */
function grantsOf(statements: PolicyStatement[]): Grants {
  const grants = new Map<string, Set<string>>();
  for (const statement of statements) {
    for (const resource of asList(statement.Resource).map(readable)) {
      const actions = grants.get(resource) ?? new Set<string>();
      for (const action of asList(statement.Action)) actions.add(action);
      grants.set(resource, actions);
    }
  }
  return normalized(Object.fromEntries([...grants].map(([resource, actions]) => [resource, [...actions]])));
}

function normalized(grants: Grants): Grants {
  return Object.fromEntries(
    Object.entries(grants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([resource, actions]) => [resource, [...new Set(actions)].sort()]),
  );
}

describe('IAM of every function', () => {
  it('knows every function of the stack, and each has a role of its own', () => {
    const ids = functionIds();
    expect([...ids.keys()].sort()).toEqual(Object.keys(EXPECTED_GRANTS).sort());
    const roles = [...ids.values()].map(roleIdOf);
    expect(new Set(roles).size).toBe(roles.length);
  });

  it.each(Object.keys(EXPECTED_GRANTS))('grants %s exactly the actions of its table, on exactly those resources', (name) => {
    expect(grantsOf(statementsOfFunction(name))).toEqual(normalized(EXPECTED_GRANTS[name] ?? {}));
  });

  it.each(Object.keys(EXPECTED_GRANTS))(
    'gives %s a role only Lambda may assume, with the basic execution policy as its only managed policy',
    (name) => {
      const roleId = roleIdOf(functionIdOf(name));
      const role = resourcesOf('AWS::IAM::Role')[roleId]?.Properties ?? {};
      expect(Object.keys(role).sort()).toEqual(['AssumeRolePolicyDocument', 'ManagedPolicyArns']);
      expect(role.AssumeRolePolicyDocument).toEqual(LAMBDA_TRUST_POLICY);
      expect(asList(role.ManagedPolicyArns).map(readable)).toEqual([BASIC_EXECUTION_ROLE]);
    },
  );
});

describe('IAM of the stack', () => {
  it('has no role, policy or managed policy besides those of the functions', () => {
    const functionRoles = [...functionIds().values()].map(roleIdOf).sort();
    expect(Object.keys(resourcesOf('AWS::IAM::Role')).sort()).toEqual(functionRoles);
    expect(Object.keys(resourcesOf('AWS::IAM::ManagedPolicy'))).toEqual([]);
    for (const policy of Object.values(resourcesOf('AWS::IAM::Policy'))) {
      expect(Object.keys(policy.Properties).sort()).toEqual(['PolicyDocument', 'PolicyName', 'Roles']);
      for (const role of asList(policy.Properties.Roles)) expect(functionRoles).toContain((role as { Ref: string }).Ref);
    }
  });

  it('has only plain Allow statements: no Deny, NotAction, NotResource or Principal; one Condition, narrowing the fan-out\'s Query', () => {
    const statements = Object.values(resourcesOf('AWS::IAM::Policy')).flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement,
    );
    expect(statements.length).toBeGreaterThan(0);
    const conditioned = statements.filter((statement) => 'Condition' in statement);
    for (const statement of statements) {
      expect(Object.keys(statement).sort()).toEqual(['Action', 'Effect', 'Resource', ...('Condition' in statement ? ['Condition'] : [])].sort());
      expect(statement.Effect).toBe('Allow');
    }
    // The fan-out may query guards' keys and ids, never whole items (a subscription's secret).
    expect(conditioned).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'subscriptionId', 'gsi1pk', 'gsi1sk'] },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    ]);
    expect(statementsOfFunction('Events/FanOut/Function')).toContainEqual(conditioned[0]);
  });

  it('lets no function but the authorizer read the JWT secret', () => {
    const secretIds = Object.keys(resourcesOf('AWS::SecretsManager::Secret'));
    expect(secretIds.map(nameOf)).toEqual(['Api/JwtSecret']);
    const covering = [JSON.stringify(ref(secretIds[0] as string)), JSON.stringify('*')];
    const readers = [...functionIds().keys()].filter((name) =>
      resourcesAllowing(statementsOfFunction(name), 'secretsmanager:GetSecretValue').some((resource) => covering.includes(resource)),
    );
    expect(readers).toEqual(['Api/Authorizer/Function']);
  });

  it('lets only the functions that enqueue send to each queue', () => {
    const functions = [...functionIds().keys()].sort();
    const senders = Object.fromEntries(
      Object.keys(resourcesOf('AWS::SQS::Queue')).map((queueId) => {
        const covering = [JSON.stringify(getAtt(queueId)), JSON.stringify('*')];
        const allowed = functions.filter((name) =>
          resourcesAllowing(statementsOfFunction(name), 'sqs:SendMessage').some((resource) => covering.includes(resource)),
        );
        return [nameOf(queueId), allowed];
      }),
    );
    expect(senders).toEqual(EXPECTED_SENDERS);
  });
});

describe('WebhookFunction grants', () => {
  // Neither helper grants KMS actions, so a customer-managed key would break the calls only on AWS.
  const fixture = (): { stack: Stack; fn: WebhookFunction } => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Kms');
    return { stack, fn: new WebhookFunction(stack, 'Fn', { handlerFile: 'fan-out', description: 'test' }) };
  };

  it('refuse a table encrypted with a customer-managed key', () => {
    const { stack, fn } = fixture();
    const table = new TableV2(stack, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      encryption: TableEncryptionV2.customerManagedKey(new Key(stack, 'Key')),
    });
    expect(() => fn.bindTable(table, { table: ['dynamodb:GetItem'] })).toThrow(/KMS/);
  });

  it('refuse a queue encrypted with a KMS key', () => {
    const { stack, fn } = fixture();
    const queue = new Queue(stack, 'Queue', { encryption: QueueEncryption.KMS });
    expect(() => fn.grantSendTo(queue)).toThrow(/KMS/);
  });
});

describe('with tracing on', () => {
  test('each function gets exactly the X-Ray writes on *, and nothing else changes', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const traced = Template.fromStack(new WebhooksStack(app, 'Traced', { tracing: true }));
    const policies = Object.values(traced.findResources('AWS::IAM::Policy')) as CfnResource[];
    const wildcard = policies.flatMap((policy) =>
      (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement.filter((statement) => statement.Resource === '*'),
    );
    expect(wildcard).toHaveLength(Object.keys(EXPECTED_GRANTS).length);
    for (const statement of wildcard) expect(asList(statement.Action).sort()).toEqual(XRAY);
    const statementsOf = (t: Template) =>
      Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
        (policy) => (policy as CfnResource).Properties.PolicyDocument as { Statement: PolicyStatement[] },
      ).flatMap((document) => document.Statement).length;
    expect(statementsOf(traced)).toBe(statementsOf(template) + wildcard.length);
  });
});
