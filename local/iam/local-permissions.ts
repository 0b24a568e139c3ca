import { runSimulation } from '@cloud-copilot/iam-simulate';
import { CfnTemplate } from '../template/synth';
import { ServiceResponse, accessDeniedResponse, denialMessage } from './access-denied';
import { FunctionRole, LocalArnContext, functionRoles } from './role-policies';
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
}

/** Decisions kept per function, action and resource; object keys of S3 make this grow, hence the cap. */
const MAX_CACHED_DECISIONS = 10_000;

type Decision = { allowed: true } | { allowed: false; kind: 'ImplicitlyDenied' | 'ExplicitlyDenied' };

/**
 * Evaluates each call a function makes against its role's identity-based policies from the
 * synthesized template with `@cloud-copilot/iam-simulate`, which follows AWS's policy evaluation
 * logic (explicit deny, then allow, else implicit deny). Resource policies (queue and bucket
 * policies) are not evaluated: within one account an identity policy's allow suffices unless a
 * resource policy denies, and ours deny only non-TLS requests, which never come from Lambda.
 */
export function localPermissions(template: CfnTemplate, context: LocalArnContext): LocalPermissions {
  const roles = functionRoles(template, context);
  const decisions = new Map<string, Promise<Decision>>();
  const decide = (role: FunctionRole, permission: RequiredPermission): Promise<Decision> => {
    const key = `${role.functionLogicalId} ${permission.action} ${permission.resource}`;
    let decision = decisions.get(key);
    if (!decision) {
      if (decisions.size >= MAX_CACHED_DECISIONS) decisions.clear();
      decision = simulate(role, permission, context.account);
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
          return accessDeniedResponse(request.service, denialMessage(request.service, role.principalArn, permission, decision.kind));
        }
      }
      return undefined;
    },
  };
}

async function simulate(role: FunctionRole, permission: RequiredPermission, account: string): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal: role.principalArn,
        action: permission.action,
        resource: { resource: permission.resource, accountId: account },
        contextVariables: {},
      },
      identityPolicies: role.policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`the IAM evaluator refused ${permission.action} on ${permission.resource}: ${JSON.stringify(result.errors)}`);
  }
  if (result.overallResult === 'Allowed') return { allowed: true };
  return { allowed: false, kind: result.overallResult === 'ExplicitlyDenied' ? 'ExplicitlyDenied' : 'ImplicitlyDenied' };
}
