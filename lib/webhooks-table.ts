import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../lambdas/core/settings';

/** Props of {@link WebhooksTable}. */
export interface WebhooksTableProps {
  /** @default RemovalPolicy.RETAIN — subscriptions and their secrets outlive a stack deletion. */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single table: subscriptions (by project, by id within a project), uniqueness guards
 * (which the fan-out reads, consistently, to find a topic's subscribers), and attempt logs with
 * a TTL (a project's history merges its subscriptions' logs: no index entry per attempt,
 * docs/design.md §3.18).
 */
export class WebhooksTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: WebhooksTableProps = {}) {
    super(scope, id);
    const { partitionKey, sortKey, legacyTopicIndex, ttlAttribute } = TABLE_KEYS;
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: partitionKey, type: AttributeType.STRING },
      sortKey: { name: sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryptionV2.awsManagedKey(),
      timeToLiveAttribute: ttlAttribute,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      // Its one index is unused, kept one release for an upgrade's old code (TABLE_KEYS.legacyTopicIndex).
      globalSecondaryIndexes: [
        {
          indexName: legacyTopicIndex.name,
          partitionKey: { name: legacyTopicIndex.partitionKey, type: AttributeType.STRING },
          sortKey: { name: legacyTopicIndex.sortKey, type: AttributeType.STRING },
          projectionType: ProjectionType[legacyTopicIndex.projection],
        },
      ],
    });
  }
}
