/**
 * Template metadata key naming each function's handler file and export: the synthesized
 * template keeps only the bundle's asset hash, and the local stack runs the handler modules.
 * Plain data, no CDK import: the local stack reads it without loading the CDK.
 */
export const LOCAL_HANDLER_METADATA = 'tiledesk-webhooks:local-handler';

/** The value of {@link LOCAL_HANDLER_METADATA}. */
export interface LocalHandlerMetadata {
  /** The handler file, relative to the project's root. */
  readonly entry: string;
  /** The export to call. */
  readonly export: string;
}
