import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import { CfnTemplate } from '../template/synth';
import { Denial, ServiceResponse, accessDeniedResponse, denialMessage } from './access-denied';
import { FunctionRole, LocalArnContext, PolicyDocument, functionRoles, intrinsicResolver } from './role-policies';
import { resourcePolicies } from './resource-policies';
import { AwsRequest, RequiredPermission, requiredPermissions } from './required-permissions';

/** The local AWS endpoint's authorization of the functions' calls. */
export interface LocalPermissions {
  /** Whether `accessKeyId` names a function of the template (any other key is an administrator). */
  isFunctionKey(accessKeyId: string | undefined): boolean;
  /**
   * The service's access-denied answer when the function `accessKeyId` may not make `request`,
   * or undefined when it may (and always for an administrator's key).
   */
  authorize(accessKeyId: string | undefined, request: AwsRequest): Promise<ServiceResponse | undefined>;
  /**
   * Whether an AWS service (`events.amazonaws.com`), acting for the resource `sourceArn` (a
   * rule, see {@link arnOf}), may make `action` on `resourceArn`. A service principal has no
   * identity policy: the resource's own policy (a queue policy) must allow it, with its
   * `aws:SourceArn` and `aws:SourceAccount` conditions.
   */
  serviceMay(servicePrincipal: string, action: string, resourceArn: string, sourceArn: string): Promise<boolean>;
  /** The ARN of the template's resource `logicalId`, as a policy's `Fn::GetAtt … Arn` gives it. */
  arnOf(logicalId: string): string;
}

/** Decisions kept per function, action and resource; object keys of S3 make this grow, hence the cap. */
const MAX_CACHED_DECISIONS = 10_000;

type Decision = { allowed: true } | ({ allowed: false } & Denial);

/**
 * Evaluates each call a function makes against its role's identity-based policies and the
 * resource's policy (queue or bucket policy) from the synthesized template with
 * `@cloud-copilot/iam-simulate`, which follows AWS's policy evaluation logic within one account:
 * an explicit deny wins, else an allow in either policy suffices, else implicit deny.
 */
export function localPermissions(template: CfnTemplate, context: LocalArnContext): LocalPermissions {
  const roles = functionRoles(template, context);
  const resourcePolicyOf = resourcePolicies(template, context);
  const resolve = intrinsicResolver(template, context);
  const arnOf = (logicalId: string): string => String(resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }));
  const serviceDecisions = new Map<string, Promise<boolean>>();
  const decisions = new Map<string, Promise<Decision>>();
  const decide = (role: FunctionRole, permission: RequiredPermission): Promise<Decision> => {
    const key = `${role.functionLogicalId} ${permission.action} ${permission.resource} ${JSON.stringify(permission.context ?? {})}`;
    let decision = decisions.get(key);
    if (!decision) {
      if (decisions.size >= MAX_CACHED_DECISIONS) decisions.clear();
      decision = simulate(role, permission, context.account, resourcePolicyOf(permission.resource));
      decisions.set(key, decision);
      decision.catch(() => decisions.delete(key));
    }
    return decision;
  };
  return {
    isFunctionKey: (accessKeyId) => accessKeyId !== undefined && roles.has(accessKeyId),
    async authorize(accessKeyId, request) {
      const role = accessKeyId === undefined ? undefined : roles.get(accessKeyId);
      if (!role) return undefined;
      for (const permission of requiredPermissions(request, context)) {
        const decision = await decide(role, permission);
        if (!decision.allowed) {
          return accessDeniedResponse(request.service, denialMessage(request.service, role.principalArn, permission, decision));
        }
      }
      return undefined;
    },
    serviceMay(servicePrincipal, action, resourceArn, sourceArn) {
      const key = `${servicePrincipal} ${action} ${resourceArn} ${sourceArn}`;
      let decision = serviceDecisions.get(key);
      if (!decision) {
        decision = simulateService(servicePrincipal, action, resourceArn, sourceArn, context.account, resourcePolicyOf(resourceArn));
        serviceDecisions.set(key, decision);
        decision.catch(() => serviceDecisions.delete(key));
      }
      return decision;
    },
    arnOf,
  };
}

/** A service principal's call, for a source resource of the account, judged on the resource's policy alone. */
async function simulateService(
  servicePrincipal: string,
  action: string,
  resourceArn: string,
  sourceArn: string,
  account: string,
  resourcePolicy: PolicyDocument | undefined,
): Promise<boolean> {
  if (!resourcePolicy) return false;
  const result = await runSimulation(
    {
      request: {
        principal: servicePrincipal,
        action,
        resource: { resource: resourceArn, accountId: account },
        contextVariables: { 'aws:SecureTransport': 'true', 'aws:SourceArn': sourceArn, 'aws:SourceAccount': account },
      },
      identityPolicies: [],
      resourcePolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`the IAM evaluator refused ${action} on ${resourceArn}: ${JSON.stringify(result.errors)}`);
  return result.overallResult === 'Allowed';
}

async function simulate(
  role: FunctionRole,
  permission: RequiredPermission,
  account: string,
  resourcePolicy: PolicyDocument | undefined,
): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal: role.principalArn,
        action: permission.action,
        resource: { resource: permission.resource, accountId: account },
        // Lambda's SDK calls AWS over TLS; the policies' SecureTransport conditions see that.
        contextVariables: { 'aws:SecureTransport': 'true', ...permission.context },
      },
      identityPolicies: role.policies,
      resourcePolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`the IAM evaluator refused ${permission.action} on ${permission.resource}: ${JSON.stringify(result.errors)}`);
  }
  if (result.overallResult === 'Allowed') return { allowed: true };
  if (result.overallResult !== 'ExplicitlyDenied' || result.resultType !== 'single') return { allowed: false, kind: 'ImplicitlyDenied' };
  const explicit = getDenialReasons(result.result.analysis).find((reason) => reason.denialType === 'Explicit');
  return { allowed: false, kind: 'ExplicitlyDenied', by: explicit?.policyType === 'resource' ? 'resource' : 'identity' };
}
