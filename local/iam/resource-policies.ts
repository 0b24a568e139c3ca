import { CfnTemplate } from '../template/synth';
import { LocalArnContext, PolicyDocument, intrinsicResolver } from './role-policies';

/**
 * The resource-based policies of the template — `AWS::SQS::QueuePolicy` per queue,
 * `AWS::S3::BucketPolicy` per bucket — resolved to local ARNs, looked up by the resource ARN a
 * request is authorized on (a queue's ARN; a bucket's or any of its objects').
 */
export function resourcePolicies(template: CfnTemplate, context: LocalArnContext): (resourceArn: string) => PolicyDocument | undefined {
  const resolve = intrinsicResolver(template, context);
  const byArn = new Map<string, PolicyDocument>();
  for (const resource of Object.values(template.Resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::SQS::QueuePolicy') {
      for (const queue of (properties.Queues ?? []) as { Ref?: string }[]) {
        if (queue.Ref) byArn.set(String(resolve({ 'Fn::GetAtt': [queue.Ref, 'Arn'] })), resolve(properties.PolicyDocument) as PolicyDocument);
      }
    }
    if (resource.Type === 'AWS::S3::BucketPolicy') {
      byArn.set(`arn:aws:s3:::${String(resolve(properties.Bucket))}`, resolve(properties.PolicyDocument) as PolicyDocument);
    }
  }
  return (resourceArn) => {
    const bucket = /^(arn:aws:s3:::[^/]+)/.exec(resourceArn)?.[1];
    return byArn.get(bucket ?? resourceArn);
  };
}
