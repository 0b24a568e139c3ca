import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../core/settings';
import { dynamoDocumentClient, putConditionally } from './aws-clients';

const { partitionKey: PK, sortKey: SK, ttlAttribute } = TABLE_KEYS;

const markerKey = (requestHash: string) => ({ [PK]: `INGEST#${requestHash}`, [SK]: 'INGEST' });

/**
 * Which Tiledesk requests were already published, for a window of minutes: Tiledesk retries a
 * failed request with the same bytes, so a marker per request hash lets its retries through
 * once. DynamoDB's TTL removes a marker only eventually, so an expired one counts as absent.
 */
export class IngestDedupeStore {
  constructor(
    private readonly tableName: string,
    private readonly windowSeconds: number,
    private readonly client = dynamoDocumentClient,
  ) {}

  /** True when this request is new (the marker is now ours); false for a retry within the window. */
  async claim(requestHash: string, nowMs = Date.now()): Promise<boolean> {
    const nowSeconds = Math.floor(nowMs / 1000);
    // A lost answer's retry finds its own marker: read back, not taken for Tiledesk's retry.
    return putConditionally(this.client, this.tableName, { ...markerKey(requestHash), [ttlAttribute]: nowSeconds + this.windowSeconds }, {
      ConditionExpression: 'attribute_not_exists(#pk) OR #ttl <= :now',
      ExpressionAttributeNames: { '#pk': PK, '#ttl': ttlAttribute },
      ExpressionAttributeValues: { ':now': nowSeconds },
    });
  }

  /** Gives the marker up when publishing failed, so Tiledesk's retry is published. */
  async release(requestHash: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: markerKey(requestHash) }));
  }
}
