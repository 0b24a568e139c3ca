import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { WebhooksStack, WebhooksStackProps } from '../../lib/webhooks-stack';

/** A resource of the synthesized template, as far as these tests read it. */
export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** One target of an EventBridge rule. */
export interface RuleTarget {
  Arn: unknown;
  Id: string;
  DeadLetterConfig?: { Arn: unknown };
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  SqsParameters?: { MessageGroupId?: string };
}

export interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

/** `{ Ref: id }`, as CloudFormation writes a reference to a resource. */
export const ref = (logicalId: string): { Ref: string } => ({ Ref: logicalId });

/** `{ 'Fn::GetAtt': [id, attribute] }`. */
export const getAtt = (logicalId: string, attribute = 'Arn'): { 'Fn::GetAtt': [string, string] } => ({
  'Fn::GetAtt': [logicalId, attribute],
});

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

export const actionsOf = (statements: PolicyStatement[]): string[] =>
  statements.flatMap((statement) => asList(statement.Action));

/** Whether an IAM action pattern (`sqs:*`, `dynamodb:Put*`, `*`) covers the action. */
function covers(pattern: string, action: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i').test(action);
}

/** The resources (as JSON) on which some Allow statement grants the action, wildcards included. */
export function resourcesAllowing(statements: PolicyStatement[], action: string): string[] {
  return statements
    .filter((statement) => statement.Effect === 'Allow')
    .filter((statement) => asList(statement.Action).some((pattern) => covers(pattern, action)))
    .flatMap((statement) => asList(statement.Resource).map((resource) => JSON.stringify(resource)));
}

/**
 * The synthesized {@link WebhooksStack} and lookups that find resources by how they are wired
 * (which queue a function consumes, which role it runs as) rather than by generated logical ids.
 */
export class StackTemplate {
  private constructor(readonly template: Template) {}

  static synth(props: WebhooksStackProps = {}): StackTemplate {
    // An empty bundling-stacks list makes NodejsFunction skip esbuild: the template is all we test.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    return new StackTemplate(Template.fromStack(new WebhooksStack(app, 'Test', props)));
  }

  resources(type: string): Record<string, CfnResource> {
    return this.template.findResources(type) as Record<string, CfnResource>;
  }

  resource(type: string, logicalId: string): CfnResource {
    const found = this.resources(type)[logicalId];
    expect(found).toBeDefined();
    return found as CfnResource;
  }

  onlyLogicalId(type: string, props: object): string {
    const ids = Object.keys(this.template.findResources(type, { Properties: props }));
    expect(ids).toHaveLength(1);
    return ids[0] as string;
  }

  /**
   * The logical id of the one function with these variables: `NAME`, `NAME=value` for a value,
   * `!NAME` for one it must not have, several separated by commas.
   */
  functionIdWithEnv(variable: string): string {
    const pattern: Record<string, unknown> = {};
    for (const part of variable.split(',')) {
      const [name, value] = part.split('=') as [string, string | undefined];
      if (name.startsWith('!')) pattern[name.slice(1)] = Match.absent();
      else pattern[name] = value ?? Match.anyValue();
    }
    return this.onlyLogicalId('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike(pattern) } });
  }

  functionIdWithEnvValue(variable: string, value: string): string {
    return this.functionIdWithEnv(`${variable}=${value}`);
  }

  functionWithEnv(variable: string): CfnResource {
    return this.resource('AWS::Lambda::Function', this.functionIdWithEnv(variable));
  }

  /** The environment variables of the one function that has the given variable. */
  environmentOf(variable: string): Record<string, unknown> {
    const environment = this.functionWithEnv(variable).Properties.Environment as { Variables: Record<string, unknown> };
    return environment.Variables;
  }

  /** Every statement of every IAM policy attached to the function's execution role. */
  statementsOf(fn: CfnResource): PolicyStatement[] {
    const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
    const roleId = role['Fn::GetAtt'][0];
    const policies = Object.values(this.resources('AWS::IAM::Policy')).filter((policy) =>
      (policy.Properties.Roles as unknown[]).some((roleRef) => JSON.stringify(roleRef) === JSON.stringify(ref(roleId))),
    );
    expect(policies.length).toBeGreaterThan(0);
    return policies.flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
  }

  /** The one SQS event source mapping that invokes the function. */
  eventSourceMappingOf(functionId: string): CfnResource {
    const id = this.onlyLogicalId('AWS::Lambda::EventSourceMapping', { FunctionName: ref(functionId) });
    return this.resource('AWS::Lambda::EventSourceMapping', id);
  }

  /** The logical id of the queue the function consumes. */
  queueConsumedBy(functionId: string): string {
    const source = this.eventSourceMappingOf(functionId).Properties.EventSourceArn as { 'Fn::GetAtt': [string, string] };
    return source['Fn::GetAtt'][0];
  }

  /** The logical id of the queue's dead-letter queue, from its redrive policy. */
  deadLetterQueueOf(queueId: string): string {
    const redrive = this.resource('AWS::SQS::Queue', queueId).Properties.RedrivePolicy as {
      deadLetterTargetArn: { 'Fn::GetAtt': [string, string] };
    };
    return redrive.deadLetterTargetArn['Fn::GetAtt'][0];
  }

  /** Every statement of the queue policies attached to the queue. */
  queuePolicyStatementsOf(queueId: string): PolicyStatement[] {
    return Object.values(this.resources('AWS::SQS::QueuePolicy'))
      .filter((policy) => (policy.Properties.Queues as unknown[]).some((queue) => JSON.stringify(queue) === JSON.stringify(ref(queueId))))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
  }

  /** The one rule of the stack. */
  onlyRule(): CfnResource {
    return this.resource('AWS::Events::Rule', this.onlyLogicalId('AWS::Events::Rule', {}));
  }

  /** The one target of the one rule. */
  onlyRuleTarget(): RuleTarget {
    const targets = this.onlyRule().Properties.Targets as RuleTarget[];
    expect(targets).toHaveLength(1);
    return targets[0] as RuleTarget;
  }

  /** The logical id of the queue the rule sends the events it could not deliver to. */
  ruleDeadLetterQueue(): string {
    const deadLetter = this.onlyRuleTarget().DeadLetterConfig as { Arn: { 'Fn::GetAtt': [string, string] } };
    return deadLetter.Arn['Fn::GetAtt'][0];
  }
}
