import { localPermissions } from '../../../local/iam/local-permissions';
import { intrinsicResolver } from '../../../local/iam/role-policies';
import { localNames, localResourceName } from '../../../local/runtime/local-resources';
import { CfnTemplate, synthesizeTemplate } from '../../../local/template/synth';

/**
 * EventBridge sends to a rule's queue, and to its dead-letter queue, only when the queue's policy
 * allows `events.amazonaws.com` for that rule (a service principal has no identity policy):
 * judged here on the template `cdk deploy` would create, as the local bus judges each send.
 */
const place = { region: 'us-east-1', account: '000000000000' };
let template: CfnTemplate;

beforeAll(() => {
  template = synthesizeTemplate();
});

const permissionsOf = (of: CfnTemplate) => {
  const local = { ...place, stackName: 'TiledeskWebhooks', names: localNames(of, 'TiledeskWebhooks') };
  return localPermissions(of, { ...place, physicalName: (logicalId) => localResourceName(of, local, logicalId) });
};
const logicalIdOf = (of: CfnTemplate, type: string, prefix: string): string => {
  const id = Object.keys(of.Resources).find((logicalId) => of.Resources[logicalId]!.Type === type && logicalId.startsWith(prefix));
  if (!id) throw new Error(`no ${type} ${prefix}… in the template`);
  return id;
};
const mayEventBridgeSend = (of: CfnTemplate, queuePrefix: string, ruleArn?: string) => {
  const permissions = permissionsOf(of);
  const rule = ruleArn ?? permissions.arnOf(logicalIdOf(of, 'AWS::Events::Rule', 'EventsTiledeskEvents'));
  return permissions.serviceMay('events.amazonaws.com', 'sqs:SendMessage', permissions.arnOf(logicalIdOf(of, 'AWS::SQS::Queue', queuePrefix)), rule);
};

it("names the rule on the stack's own bus as AWS does: rule/<bus>/<name>", () => {
  const permissions = permissionsOf(template);
  expect(permissions.arnOf(logicalIdOf(template, 'AWS::Events::Rule', 'EventsTiledeskEvents'))).toMatch(
    /^arn:aws:events:us-east-1:000000000000:rule\/[^/]+\/[^/]+$/,
  );
});

it("lets EventBridge send for the stack's rule to the fan-out queue and to the rule's dead-letter queue", async () => {
  await expect(mayEventBridgeSend(template, 'EventsFanOutQueue')).resolves.toBe(true);
  await expect(mayEventBridgeSend(template, 'EventsRuleDlq')).resolves.toBe(true);
});

it('refuses EventBridge a queue whose policy does not name it, and a rule the policy does not name', async () => {
  await expect(mayEventBridgeSend(template, 'DeliveryQueue')).resolves.toBe(false);
  await expect(mayEventBridgeSend(template, 'EventsFanOutQueue', 'arn:aws:events:us-east-1:000000000000:rule/other-bus/other-rule')).resolves.toBe(false);
});

it("refuses it the fan-out queue once the queue policy loses EventBridge's statement (a construct that forgot it)", async () => {
  const copy = structuredClone(template);
  const policy = copy.Resources[logicalIdOf(copy, 'AWS::SQS::QueuePolicy', 'EventsFanOutQueuePolicy')]!;
  const document = policy.Properties!.PolicyDocument as { Statement: { Principal?: { Service?: string } }[] };
  const before = document.Statement.length;
  document.Statement = document.Statement.filter((statement) => statement.Principal?.Service !== 'events.amazonaws.com');
  expect(document.Statement.length).toBe(before - 1);
  await expect(mayEventBridgeSend(copy, 'EventsFanOutQueue')).resolves.toBe(false);
});

it('resolves a rule on a custom bus as CloudFormation does: Ref <bus>|<name>, a bus named by its ARN (a partner bus keeps its slashes)', () => {
  const rules: CfnTemplate = {
    Resources: {
      OnOwnBus: { Type: 'AWS::Events::Rule', Properties: { EventBusName: 'orders' } },
      OnPartnerBus: { Type: 'AWS::Events::Rule', Properties: { EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/aws.partner/acme.com/123/stream' } },
      OnDefaultBus: { Type: 'AWS::Events::Rule', Properties: {} },
    },
  };
  const resolve = intrinsicResolver(rules, { ...place, physicalName: (logicalId) => logicalId.toLowerCase() });
  expect(resolve({ Ref: 'OnOwnBus' })).toBe('orders|onownbus');
  expect(resolve({ 'Fn::GetAtt': ['OnOwnBus', 'Arn'] })).toBe('arn:aws:events:us-east-1:000000000000:rule/orders/onownbus');
  expect(resolve({ 'Fn::GetAtt': ['OnPartnerBus', 'Arn'] })).toBe('arn:aws:events:us-east-1:000000000000:rule/aws.partner/acme.com/123/stream/onpartnerbus');
  expect(resolve({ Ref: 'OnDefaultBus' })).toBe('ondefaultbus');
  expect(resolve({ 'Fn::GetAtt': ['OnDefaultBus', 'Arn'] })).toBe('arn:aws:events:us-east-1:000000000000:rule/ondefaultbus');
});
