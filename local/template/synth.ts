import { App } from 'aws-cdk-lib';
import { WebhooksStack, WebhooksStackProps } from '../../lib/webhooks-stack';

/** One resource of a synthesized CloudFormation template. */
export interface CfnTemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  UpdateReplacePolicy?: string;
  DeletionPolicy?: string;
}

/** The parts of a synthesized CloudFormation template the local runtime reads. */
export interface CfnTemplate {
  Resources: Record<string, CfnTemplateResource>;
  Outputs?: Record<string, { Value: unknown }>;
  Parameters?: Record<string, unknown>;
}

/**
 * Synthesizes the very {@link WebhooksStack} `cdk deploy` creates, in-process and offline, and
 * returns its CloudFormation template: the local runtime builds itself from this, so what runs
 * locally is what AWS would get. Bundling is skipped (an empty `aws:cdk:bundling-stacks`): the
 * local runtime runs the handler modules themselves, and the template is all it reads.
 */
export function synthesizeTemplate(props: WebhooksStackProps = {}, stackName = 'TiledeskWebhooks'): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new WebhooksStack(app, stackName, props);
  const assembly = app.synth();
  return assembly.getStackArtifact(stack.artifactId).template as CfnTemplate;
}
