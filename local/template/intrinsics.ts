/** What a resource of the running local stack answers to `Ref` and `Fn::GetAtt`. */
export interface LocalResourceValues {
  ref: string;
  attributes: Record<string, string>;
}

/** The account and region the local stack pretends to be, and its resources by logical id. */
export interface ResolveContext {
  region: string;
  account: string;
  stackName: string;
  resources: ReadonlyMap<string, LocalResourceValues>;
}

/** A template value the local stack cannot turn into a string: names the value and why. */
export class UnresolvableValueError extends Error {}

/**
 * Resolves a template value (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and the
 * pseudo parameters) to what CloudFormation would give, with the local stack's names, URLs and
 * ARNs in place of the deployed ones. Throws {@link UnresolvableValueError} for anything else, so
 * a template the local stack does not understand stops it instead of running half-configured.
 */
export function resolveValue(value: unknown, context: ResolveContext): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UnresolvableValueError(`cannot resolve ${JSON.stringify(value)}`);
  }
  const [[fn, arg] = []] = Object.entries(value);
  switch (fn) {
    case 'Ref':
      return resolveRef(String(arg), context);
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
      const found = context.resources.get(logicalId ?? '')?.attributes[attribute ?? ''];
      if (found === undefined) throw new UnresolvableValueError(`no local value for Fn::GetAtt ${logicalId}.${attribute}`);
      return found;
    }
    case 'Fn::Join': {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((part) => resolveValue(part, context)).join(separator);
    }
    case 'Fn::Select': {
      const [index, list] = arg as [unknown, unknown];
      const items = Array.isArray(list) ? list : [];
      return resolveValue(items[Number(resolveValue(index, context))], context);
    }
    case 'Fn::Sub': {
      const [text, variables = {}] = (Array.isArray(arg) ? arg : [arg]) as [string, Record<string, unknown>?];
      return text.replace(/\$\{([^}]+)\}/g, (_match, name: string) =>
        name in variables ? resolveValue(variables[name], context) : name.includes('.') ? resolveValue({ 'Fn::GetAtt': name.split('.') }, context) : resolveRef(name, context),
      );
    }
    default:
      throw new UnresolvableValueError(`the local stack does not resolve ${fn ?? 'an empty object'}`);
  }
}

function resolveRef(name: string, context: ResolveContext): string {
  switch (name) {
    case 'AWS::Region':
      return context.region;
    case 'AWS::AccountId':
      return context.account;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return context.stackName;
    default: {
      const found = context.resources.get(name)?.ref;
      if (found === undefined) throw new UnresolvableValueError(`no local value for Ref ${name}`);
      return found;
    }
  }
}

/** The logical id a `Ref` or `Fn::GetAtt` points at, or undefined for any other value. */
export function referencedLogicalId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.Ref === 'string') return record.Ref;
  const getAtt = record['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

/** Every logical id referenced anywhere inside a value (e.g. the function inside an authorizer's URI). */
export function referencedLogicalIds(value: unknown): string[] {
  const direct = referencedLogicalId(value);
  if (direct) return [direct];
  if (Array.isArray(value)) return value.flatMap(referencedLogicalIds);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(referencedLogicalIds);
  return [];
}
