import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { DELIVERY, TABLE_KEYS } from '../core/settings';
import { dynamoDocumentClient, putIfAbsent } from './aws-clients';

const { partitionKey: PK, sortKey: SK, ttlAttribute } = TABLE_KEYS;

/**
 * Which lost attempts `recover` has already sent again: one item per attempt (its own partition
 * per subscription, so no listing of the project's items meets them), written with a condition
 * that it is new. A recover sends only the attempts whose marker it wrote, so two recovers of
 * the same range, one after the other or at once, send each delivery once. If the resent
 * delivery is lost again, its new attempt has a new log id and is recoverable again.
 */
export class RecoveryMarkerStore {
  constructor(
    private readonly tableName: string,
    private readonly ttlDays: number = DELIVERY.attemptLogTtlDays,
    private readonly client = dynamoDocumentClient,
  ) {}

  /** Marks an attempt as recovered; true for the one caller that marked it first. */
  async claim(projectId: string, subscriptionId: string, logId: string, at: Date): Promise<boolean> {
    return putIfAbsent(this.client, this.tableName, {
      [PK]: `RECOVERED#${projectId}#${subscriptionId}`,
      [SK]: logId,
      recoveredAt: at.toISOString(),
      // The marker lives as long as the attempt it stands for could still be found.
      [ttlAttribute]: Math.floor(at.getTime() / 1000) + this.ttlDays * 86_400,
    });
  }

  /** Takes a marker back: its delivery could not be sent, so a later recover may send it. */
  async release(projectId: string, subscriptionId: string, logId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { [PK]: `RECOVERED#${projectId}#${subscriptionId}`, [SK]: logId } }),
    );
  }
}
