import { CfnTemplate, CfnTemplateResource } from '../template/synth';
import { templateFunctions } from './template-functions';

/** An IAM policy document, as iam-simulate takes it. */
export interface PolicyDocument {
  Version?: string;
  Statement: unknown[] | unknown;
}

/** A function's identity as the local AWS endpoint evaluates it. */
export interface FunctionRole {
  /** The function's logical id (its local access key id). */
  functionLogicalId: string;
  /** The session ARN a Lambda function calls as: `arn:aws:sts::<account>:assumed-role/<role>/<function>`. */
  principalArn: string;
  /** The identity-based policies of its role: inline, attached `AWS::IAM::Policy`, managed. */
  policies: { name: string; policy: PolicyDocument }[];
}

/** Where the local resources live and what they are called. */
export interface LocalArnContext {
  region: string;
  account: string;
  /** The local physical name of a resource; its logical id is used when undefined. */
  physicalName: (logicalId: string) => string | undefined;
}

/**
 * AWS managed policies the template attaches, by name, with their documents as AWS publishes
 * them (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html).
 * A managed policy not listed here stops the local stack with its name.
 */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
  },
};

/**
 * Each function's role policies from the template, keyed by the function's logical id, with
 * every `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub` resolved to the local resources' ARNs.
 */
export function functionRoles(template: CfnTemplate, context: LocalArnContext): Map<string, FunctionRole> {
  const resolve = intrinsicResolver(template, context);
  const roles = new Map<string, FunctionRole>();
  for (const fn of templateFunctions(template)) {
    const role = template.Resources[fn.roleLogicalId];
    if (role?.Type !== 'AWS::IAM::Role') throw new Error(`function ${fn.logicalId}: role ${fn.roleLogicalId} is not an AWS::IAM::Role`);
    const policies: FunctionRole['policies'] = [];
    const inline = (role.Properties?.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[];
    for (const policy of inline) policies.push({ name: policy.PolicyName, policy: resolve(policy.PolicyDocument) as PolicyDocument });
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' || !attachesTo(resource, fn.roleLogicalId)) continue;
      policies.push({ name: logicalId, policy: resolve(resource.Properties?.PolicyDocument) as PolicyDocument });
    }
    for (const arn of (role.Properties?.ManagedPolicyArns ?? []) as unknown[]) {
      const name = String(resolve(arn)).replace(/^arn:[^:]+:iam::aws:policy\//, '');
      const policy = MANAGED_POLICIES[name];
      if (!policy) throw new Error(`function ${fn.logicalId}: the local stack does not know the managed policy ${name}; add its document to local/iam/role-policies.ts`);
      policies.push({ name, policy });
    }
    roles.set(fn.logicalId, {
      functionLogicalId: fn.logicalId,
      principalArn: `arn:aws:sts::${context.account}:assumed-role/${fn.roleLogicalId}/${fn.logicalId}`,
      policies,
    });
  }
  return roles;
}

function attachesTo(policy: CfnTemplateResource, roleLogicalId: string): boolean {
  const roles = (policy.Properties?.Roles ?? []) as { Ref?: string }[];
  return roles.some((role) => role.Ref === roleLogicalId);
}

/** Resolves the intrinsic functions of a template value to local values; unknown ones stop the stack. */
export function intrinsicResolver(template: CfnTemplate, context: LocalArnContext): (value: unknown) => unknown {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': context.region,
    'AWS::AccountId': context.account,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const attribute = (logicalId: string, name: string): string => {
    const resource = template.Resources[logicalId];
    if (!resource) throw new Error(`policy refers to ${logicalId}, which is not in the template`);
    const physical = context.physicalName(logicalId) ?? logicalId;
    if (resource.Type === 'AWS::Events::Rule') return ruleAttribute(physical, busNameOf(resource.Properties?.EventBusName), name, context);
    return resourceAttribute(resource.Type, physical, name, context);
  };
  /** A rule's bus by name (`EventBusName` takes a name or an ARN); `default` when absent. */
  const busNameOf = (bus: unknown): string => {
    if (bus === undefined) return 'default';
    const value = String(resolve(bus));
    // A partner bus's name has slashes of its own (`aws.partner/…/…`).
    return value.startsWith('arn:') ? value.slice(value.indexOf(':event-bus/') + ':event-bus/'.length) : value;
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    if ('Ref' in object) {
      const name = String(object.Ref);
      return pseudo[name] ?? attribute(name, 'Ref');
    }
    if ('Fn::GetAtt' in object) {
      const [logicalId, name] = object['Fn::GetAtt'] as [string, string];
      return attribute(logicalId, name);
    }
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(resolve).join(separator);
    }
    if ('Fn::Sub' in object) {
      const text = String(object['Fn::Sub']);
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        const [logicalId = '', attributeName] = name.split('.');
        return pseudo[name] ?? attribute(logicalId, attributeName ?? 'Ref');
      });
    }
    return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, resolve(inner)]));
  };
  return resolve;
}

/**
 * `Ref` or `Fn::GetAtt Arn` of an `AWS::Events::Rule`: on a custom bus its ARN is
 * `rule/<bus>/<name>` and its `Ref` is `<bus>|<name>`; on the default bus, `rule/<name>` and the
 * name (the resource's "Return values" in the CloudFormation reference). The queue policies that
 * let EventBridge send for a rule name it in `aws:SourceArn`.
 */
function ruleAttribute(name: string, bus: string, attribute: string, { region, account }: LocalArnContext): string {
  const custom = bus !== 'default';
  if (attribute === 'Ref') return custom ? `${bus}|${name}` : name;
  if (attribute === 'Arn') return `arn:aws:events:${region}:${account}:rule/${custom ? `${bus}/` : ''}${name}`;
  throw new Error(`the local stack cannot resolve ${attribute} of AWS::Events::Rule (${name}) in a policy`);
}

/**
 * `Ref` or `Fn::GetAtt` of a resource (in a role, queue or bucket policy), built as AWS builds it from the resource's physical name
 * (each type's "Return values" in the CloudFormation reference).
 */
function resourceAttribute(type: string, name: string, attribute: string, { region, account }: LocalArnContext): string {
  const values: Record<string, Record<string, string>> = {
    'AWS::DynamoDB::Table': { Ref: name, Arn: `arn:aws:dynamodb:${region}:${account}:table/${name}` },
    'AWS::DynamoDB::GlobalTable': { Ref: name, Arn: `arn:aws:dynamodb:${region}:${account}:table/${name}` },
    'AWS::SQS::Queue': {
      Ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
      Arn: `arn:aws:sqs:${region}:${account}:${name}`,
      QueueName: name,
    },
    'AWS::Events::EventBus': { Ref: name, Name: name, Arn: `arn:aws:events:${region}:${account}:event-bus/${name}` },
    'AWS::S3::Bucket': { Ref: name, Arn: `arn:aws:s3:::${name}` },
    'AWS::Lambda::Function': { Ref: name, Arn: `arn:aws:lambda:${region}:${account}:function:${name}` },
    // A secret's ARN ends in six random characters; the local ones are fixed.
    'AWS::SecretsManager::Secret': { Ref: `arn:aws:secretsmanager:${region}:${account}:secret:${name}-local0` },
    'AWS::IAM::Role': { Ref: name, Arn: `arn:aws:iam::${account}:role/${name}` },
  };
  const value = values[type]?.[attribute];
  if (value === undefined) throw new Error(`the local stack cannot resolve ${attribute} of ${type} (${name}) in a policy`);
  return value;
}
