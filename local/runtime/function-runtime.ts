import * as path from 'node:path';
import type { FunctionModel } from '../template/stack-model';
import { TemplateModelError } from '../template/stack-model';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Deployed variables the local process keeps its own value of when it has one: the log level
 * (`npm start` logs at INFO, the tests are silent).
 */
const PROCESS_OWNED = new Set(['POWERTOOLS_LOG_LEVEL']);

/**
 * Deployed variables the local stack leaves out, each with its local counterpart: the in-process
 * handlers share one environment, and these name things that exist only in a deployed bundle or
 * in a service the local endpoint does not serve.
 */
const LEFT_OUT = new Set([
  // A flag for the Node process Lambda starts; the local process is started by npm or jest.
  'NODE_OPTIONS',
  // Secrets Manager is not served locally: the local stack gives JWT_SECRET instead.
  'JWT_SECRET_ARN',
]);

/**
 * The one environment of the in-process functions: every function's template variables,
 * resolved, then `overrides` (the local stack's own: the endpoint, the secret, the console's
 * build folder). The handlers share one process and read their settings at import, so a
 * variable two functions set to different values can be honoured only when each of them is
 * called through an export bound to its own value (`localExport` in `lib/webhook-function.ts`);
 * otherwise this refuses to start, naming the variable, rather than run one of them misconfigured.
 */
export function sharedEnvironment(
  functions: readonly FunctionModel[],
  resolve: (value: unknown) => string,
  overrides: Record<string, string>,
): Record<string, string> {
  const values = new Map<string, Map<string, string[]>>();
  for (const fn of functions) {
    for (const [name, raw] of Object.entries(fn.environment)) {
      if (LEFT_OUT.has(name)) continue;
      const value = resolve(raw);
      const byValue = values.get(name) ?? new Map<string, string[]>();
      byValue.set(value, [...(byValue.get(value) ?? []), fn.logicalId]);
      values.set(name, byValue);
    }
  }
  const environment: Record<string, string> = {};
  for (const [name, byValue] of values) {
    if (byValue.size > 1) {
      const unbound = functions.filter((fn) => fn.exportName === 'handler' && name in fn.environment).map((fn) => fn.logicalId);
      if (unbound.length > 0) {
        throw new TemplateModelError(
          `${name} differs between functions (${[...byValue.values()].flat().join(', ')}); ${unbound.join(', ')} would run with another's value in the shared local process: give each a localExport bound to its own value`,
        );
      }
    }
    if (PROCESS_OWNED.has(name) && process.env[name] !== undefined) continue;
    environment[name] = [...byValue.keys()][0] ?? '';
  }
  return { ...environment, ...overrides };
}

/** A function's handler: the export its template metadata names, from the handler module itself. */
export async function loadHandler<Handler>(fn: Pick<FunctionModel, 'logicalId' | 'entry' | 'exportName'>): Promise<Handler> {
  const module = (await import(path.join(ROOT, fn.entry))) as Record<string, unknown>;
  const handler = module[fn.exportName];
  if (typeof handler !== 'function') throw new TemplateModelError(`${fn.entry} has no function export ${fn.exportName} (function ${fn.logicalId})`);
  return handler as Handler;
}
