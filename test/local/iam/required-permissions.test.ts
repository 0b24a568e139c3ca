import { requiredPermissions } from '../../../local/iam/required-permissions';
import { functionRoles } from '../../../local/iam/role-policies';
import { CfnTemplate } from '../../../local/template/synth';
import { LOCAL_HANDLER_METADATA } from '../../../lib/local-handler-metadata';

const where = { region: 'us-east-1', account: '000000000000' };
const table = 'arn:aws:dynamodb:us-east-1:000000000000:table';

describe('requiredPermissions', () => {
  const json = (service: 'dynamodb' | 'sqs' | 'events', operation: string, body: Record<string, unknown>) =>
    requiredPermissions({ service, operation, body, method: 'POST', path: '/' }, where);

  it('authorizes a DynamoDB query of an index on the index ARN, and of the table on the table', () => {
    expect(json('dynamodb', 'Query', { TableName: 't', IndexName: 'byTopic' })).toEqual([
      { action: 'dynamodb:Query', resource: `${table}/t/index/byTopic`, context: { 'dynamodb:Select': 'ALL_ATTRIBUTES' } },
    ]);
    expect(json('dynamodb', 'Query', { TableName: 't' })).toEqual([{ action: 'dynamodb:Query', resource: `${table}/t`, context: { 'dynamodb:Select': 'ALL_ATTRIBUTES' } }]);
  });

  it("gives a DynamoDB read its fine-grained condition keys: the attributes it names, and what it selects", () => {
    expect(
      json('dynamodb', 'Query', {
        TableName: 't',
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
        ProjectionExpression: '#sk, #id, doc.inner',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#id': 'subscriptionId' },
        ExpressionAttributeValues: { ':pk': { S: 'x' }, ':sk': { S: 'y' } },
      })[0]?.context,
    ).toEqual({ 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES', 'dynamodb:Attributes': ['sk', 'subscriptionId', 'doc', 'pk'] });
    expect(json('dynamodb', 'GetItem', { TableName: 't', Key: {}, Select: 'COUNT' })[0]?.context).toEqual({ 'dynamodb:Select': 'COUNT' });
    expect(json('dynamodb', 'PutItem', { TableName: 't', Item: {} })[0]).not.toHaveProperty('context');
  });

  it('authorizes each table of a DynamoDB batch, and each item of a transaction as its own action', () => {
    expect(json('dynamodb', 'BatchWriteItem', { RequestItems: { a: [], b: [] } })).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: `${table}/a` },
      { action: 'dynamodb:BatchWriteItem', resource: `${table}/b` },
    ]);
    expect(json('dynamodb', 'TransactWriteItems', { TransactItems: [{ Put: { TableName: 'a' } }, { ConditionCheck: { TableName: 'b' } }] })).toEqual([
      { action: 'dynamodb:PutItem', resource: `${table}/a` },
      { action: 'dynamodb:ConditionCheckItem', resource: `${table}/b` },
    ]);
  });

  it('authorizes SQS batches as their single action on the queue named by the URL', () => {
    expect(json('sqs', 'DeleteMessageBatch', { QueueUrl: 'http://127.0.0.1:4566/000000000000/q' })).toEqual([
      { action: 'sqs:DeleteMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:q' },
    ]);
    expect(json('sqs', 'GetQueueUrl', { QueueName: 'q' })).toEqual([{ action: 'sqs:GetQueueUrl', resource: 'arn:aws:sqs:us-east-1:000000000000:q' }]);
  });

  it('authorizes PutEvents on each bus its entries name, the default bus when none', () => {
    expect(json('events', 'PutEvents', { Entries: [{ EventBusName: 'tiledesk' }, {}, { EventBusName: 'tiledesk' }] })).toEqual([
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/tiledesk' },
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/default' },
    ]);
  });

  it('reads S3 actions from the method and the path-style address', () => {
    const s3 = (method: string, path: string) => requiredPermissions({ service: 's3', operation: '', method, path }, where);
    expect(s3('GET', '/b/events/a%20b.json?x-id=GetObject')).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/events/a b.json' }]);
    expect(s3('PUT', '/b/events/k')).toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::b/events/k' }]);
    expect(s3('PUT', '/b')).toEqual([{ action: 's3:CreateBucket', resource: 'arn:aws:s3:::b' }]);
    expect(s3('GET', '/b?list-type=2')).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::b' }]);
  });
});

describe('functionRoles', () => {
  const template = (managedPolicy: string): CfnTemplate => ({
    Resources: {
      Fn1: {
        Type: 'AWS::Lambda::Function',
        Metadata: { [LOCAL_HANDLER_METADATA]: { entry: 'lambdas/handlers/fan-out.ts', export: 'handler' } },
        Properties: { Role: { 'Fn::GetAtt': ['Role1', 'Arn'] } },
      },
      Role1: {
        Type: 'AWS::IAM::Role',
        Properties: { ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/${managedPolicy}`]] }] },
      },
      Policy1: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'Role1' }],
          PolicyDocument: {
            Statement: [
              { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Queue1', 'Arn'] } },
              { Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Sub': '${Table1.Arn}/index/*' } },
            ],
          },
        },
      },
      Queue1: { Type: 'AWS::SQS::Queue' },
      Table1: { Type: 'AWS::DynamoDB::GlobalTable' },
    },
  });
  const context = { ...where, physicalName: (logicalId: string) => ({ Queue1: 'local-queue' })[logicalId] };

  it('gathers the role policies with references resolved to the local ARNs', () => {
    const role = functionRoles(template('service-role/AWSLambdaBasicExecutionRole'), context).get('Fn1');
    expect(role?.principalArn).toBe('arn:aws:sts::000000000000:assumed-role/Role1/Fn1');
    expect(role?.policies.map((policy) => policy.name)).toEqual(['Policy1', 'service-role/AWSLambdaBasicExecutionRole']);
    expect(role?.policies[0]?.policy.Statement).toEqual([
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: 'arn:aws:sqs:us-east-1:000000000000:local-queue' },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Table1/index/*' },
    ]);
  });

  it('stops on a managed policy it does not know, naming it', () => {
    expect(() => functionRoles(template('AdministratorAccess'), context)).toThrow(/managed policy AdministratorAccess/);
  });
});
