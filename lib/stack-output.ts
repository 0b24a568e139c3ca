import { CfnOutput } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * A stack output under exactly `name`, wherever in the tree it is declared, so the README's
 * `--query` examples and scripts can rely on it (CDK would otherwise prefix a path hash).
 */
export function stackOutput(scope: Construct, name: string, value: string, description?: string): CfnOutput {
  const output = new CfnOutput(scope, name, { value, description });
  output.overrideLogicalId(name);
  return output;
}
