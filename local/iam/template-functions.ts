import * as path from 'node:path';
import { LOCAL_HANDLER_METADATA, LocalHandlerMetadata } from '../../lib/local-handler-metadata';
import { CfnTemplate } from '../template/synth';

/** A function of the synthesized template, as the local runtime needs to know it. */
export interface TemplateFunction {
  /** Its logical id: the access key id its AWS calls carry locally. */
  logicalId: string;
  /** Its handler file under `lambdas/handlers/`, without extension (e.g. `delivery`). */
  handlerFile: string;
  /** Its environment variables as written in the template (intrinsics unresolved). */
  environment: Record<string, unknown>;
  /** The logical id of its execution role. */
  roleLogicalId: string;
}

/**
 * Every `AWS::Lambda::Function` of the template that runs one of our handlers (marked with
 * {@link LOCAL_HANDLER_METADATA}); functions CDK adds for itself are left out.
 */
export function templateFunctions(template: CfnTemplate): TemplateFunction[] {
  const functions: TemplateFunction[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const handler = resource.Metadata?.[LOCAL_HANDLER_METADATA] as LocalHandlerMetadata | undefined;
    if (resource.Type !== 'AWS::Lambda::Function' || typeof handler?.entry !== 'string') continue;
    const handlerFile = path.posix.basename(handler.entry, '.ts');
    const properties = resource.Properties ?? {};
    const role = properties.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const roleLogicalId = role?.['Fn::GetAtt']?.[0];
    if (!roleLogicalId) throw new Error(`function ${logicalId}: its Role is not a GetAtt of a role in the template`);
    const environment = (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    functions.push({ logicalId, handlerFile, environment, roleLogicalId });
  }
  return functions;
}

/**
 * The logical id of each function under the name the local runtime gives it today: its handler
 * file, with `-slow` for the slow delivery lane (`delivery`, `delivery-slow`, `fan-out`, …).
 */
export function localFunctionIds(template: CfnTemplate): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const fn of templateFunctions(template)) {
    const name = fn.environment.DELIVERY_LANE === 'slow' ? `${fn.handlerFile}-slow` : fn.handlerFile;
    if (ids[name]) throw new Error(`two functions of the template run as "${name}": ${ids[name]} and ${fn.logicalId}`);
    ids[name] = fn.logicalId;
  }
  return ids;
}
