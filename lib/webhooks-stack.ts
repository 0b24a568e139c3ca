import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { SubscriptionApi } from './subscription-api';
import { WebhooksTable } from './webhooks-table';

/** Settings a deployment chooses, read from CDK context by `bin/app.ts`. */
export interface WebhooksStackProps extends StackProps {
  /** Accept `http://` targets. @default false */
  readonly allowHttpTargets?: boolean;
  /** CIDRs and host names exempt from the private-address refusal. @default '' */
  readonly targetAllowlist?: string;
  /** @default 100 */
  readonly subscriptionLimit?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
}

/** The whole service: table, subscription API, and (as they land) event routing and delivery. */
export class WebhooksStack extends Stack {
  constructor(scope: Construct, id: string, props: WebhooksStackProps = {}) {
    super(scope, id, props);
    const { table } = new WebhooksTable(this, 'Store', { removalPolicy: props.tableRemovalPolicy });
    new SubscriptionApi(this, 'Api', {
      table,
      allowHttpTargets: props.allowHttpTargets,
      targetAllowlist: props.targetAllowlist,
      subscriptionLimit: props.subscriptionLimit,
    });
    new CfnOutput(this, 'TableName', { value: table.tableName });
  }
}
