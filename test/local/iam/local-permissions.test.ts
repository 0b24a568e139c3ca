import { localPermissions } from '../../../local/iam/local-permissions';
import { CfnTemplate } from '../../../local/template/synth';
import { LOCAL_HANDLER_METADATA } from '../../../lib/local-handler-metadata';

/** One function whose role may send to Granted; Other's queue policy speaks for itself. */
function template(otherQueuePolicy: Record<string, unknown>): CfnTemplate {
  return {
    Resources: {
      Fn1: { Type: 'AWS::Lambda::Function', Metadata: { [LOCAL_HANDLER_METADATA]: { entry: 'lambdas/handlers/fan-out.ts', export: 'handler' } }, Properties: { Role: { 'Fn::GetAtt': ['Role1', 'Arn'] } } },
      Role1: { Type: 'AWS::IAM::Role', Properties: {} },
      Policy1: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'Role1' }],
          PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: [{ 'Fn::GetAtt': ['Granted', 'Arn'] }, { 'Fn::GetAtt': ['Other', 'Arn'] }] }] },
        },
      },
      Granted: { Type: 'AWS::SQS::Queue' },
      Other: { Type: 'AWS::SQS::Queue' },
      OtherPolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: { Queues: [{ Ref: 'Other' }], PolicyDocument: { Version: '2012-10-17', Statement: [otherQueuePolicy] } },
      },
    },
  };
}

const context = { region: 'us-east-1', account: '000000000000', physicalName: () => undefined };
const send = (queue: string, operation = 'SendMessage') => ({
  service: 'sqs' as const,
  operation,
  body: { QueueUrl: `http://127.0.0.1:4566/000000000000/${queue}` },
  method: 'POST',
  path: '/',
});
const denyTls = {
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 'sqs:*',
  Resource: { 'Fn::GetAtt': ['Other', 'Arn'] },
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};

it('allows what the role grants, the queue policy denying only plain-HTTP calls (Lambda calls over TLS)', async () => {
  const permissions = localPermissions(template(denyTls), context);
  await expect(permissions.authorize('Fn1', send('Other'))).resolves.toBeUndefined();
  await expect(permissions.authorize('Fn1', send('Granted'))).resolves.toBeUndefined();
});

it('names an explicit deny of a queue policy as a resource-based policy', async () => {
  const deny = { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::000000000000:role/Role1' }, Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Other', 'Arn'] } };
  const refusal = await localPermissions(template(deny), context).authorize('Fn1', send('Other'));
  expect(refusal?.status).toBe(403);
  expect(JSON.parse(refusal?.body ?? '{}').message).toBe(
    'User: arn:aws:sts::000000000000:assumed-role/Role1/Fn1 is not authorized to perform: sqs:sendmessage on resource: ' +
      'arn:aws:sqs:us-east-1:000000000000:Other with an explicit deny in a resource-based policy',
  );
});

it('allows, within the account, what only the queue policy grants the role', async () => {
  const allow = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:role/Role1' }, Action: 'sqs:ReceiveMessage', Resource: { 'Fn::GetAtt': ['Other', 'Arn'] } };
  const permissions = localPermissions(template(allow), context);
  await expect(permissions.authorize('Fn1', send('Other', 'ReceiveMessage'))).resolves.toBeUndefined();
  const refusal = await permissions.authorize('Fn1', send('Granted', 'ReceiveMessage'));
  expect(refusal?.headers['x-amzn-query-error']).toBe('AccessDenied;Sender');
});

it('lets any key that names no function through', async () => {
  const permissions = localPermissions(template(denyTls), context);
  expect(permissions.isFunctionKey('AKIDEXAMPLE')).toBe(false);
  await expect(permissions.authorize('AKIDEXAMPLE', send('Other', 'DeleteQueue'))).resolves.toBeUndefined();
});
