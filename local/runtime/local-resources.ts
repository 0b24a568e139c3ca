import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { LocalResourceValues } from '../template/intrinsics';
import type { CfnTemplate } from '../template/synth';
import type { QueueModel, StackModel, TableModel } from '../template/stack-model';

/** A queue of the running local stack. */
export interface QueueRef {
  url: string;
  arn: string;
}

/** Where the local stack runs, and the local name of each resource the template leaves unnamed. */
export interface LocalPlace {
  region: string;
  account: string;
  stackName: string;
  /** By logical id: see {@link localNames}. */
  names: ReadonlyMap<string, string>;
}

const kebab = (text: string): string => text.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/**
 * Local names for the resources the template leaves unnamed (CloudFormation would add a random
 * suffix): a resource a stack output names by `Ref` is called after that output, so the URLs the
 * docs and `npm start` print read as what they are and stay the same across restarts and
 * template changes (`DeliveryDlqUrl` → `tiledesk-webhooks-delivery-dlq`); any other is
 * `{stack}-{logicalId}`, as CloudFormation names it without the suffix.
 */
export function localNames(template: CfnTemplate, stackName: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const [output, { Value }] of Object.entries(template.Outputs ?? {})) {
    const ref = (Value as { Ref?: unknown } | null)?.Ref;
    if (typeof ref === 'string' && template.Resources[ref] && !names.has(ref)) {
      names.set(ref, `${kebab(stackName)}-${kebab(output.replace(/(Url|Name)$/, ''))}`);
    }
  }
  for (const logicalId of Object.keys(template.Resources)) if (!names.has(logicalId)) names.set(logicalId, `${stackName}-${logicalId}`);
  return names;
}

/** The local name of a resource the template leaves unnamed. */
export const physicalName = (place: LocalPlace, logicalId: string): string => place.names.get(logicalId) ?? `${place.stackName}-${logicalId}`;

/** S3 bucket names are lower case, at most 63 characters. */
export const bucketName = (place: LocalPlace, logicalId: string): string => physicalName(place, logicalId).toLowerCase().slice(0, 63);

/**
 * Creates the template's queues with their attributes (dead-letter queues first, so each redrive
 * policy names a queue that exists). `visibilityOverrides` shortens a queue's visibility timeout
 * for a test that cannot wait the deployed one.
 */
export async function createQueues(
  sqs: SQSClient,
  place: LocalPlace,
  queues: readonly QueueModel[],
  visibilityOverrides: ReadonlyMap<string, number>,
): Promise<Map<string, QueueRef>> {
  const created = new Map<string, QueueRef>();
  const pending = [...queues];
  while (pending.length > 0) {
    const index = pending.findIndex((queue) => !queue.redrive || created.has(queue.redrive.deadLetterQueueId));
    if (index < 0) throw new Error(`queues ${pending.map((queue) => queue.logicalId).join(', ')} redrive to each other or to a queue the template lacks`);
    const [queue] = pending.splice(index, 1) as [QueueModel];
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(visibilityOverrides.get(queue.logicalId) ?? queue.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(queue.retentionSeconds),
      DelaySeconds: String(queue.delaySeconds),
      MaximumMessageSize: String(queue.maximumMessageSize),
    };
    if (queue.receiveWaitSeconds !== undefined) attributes.ReceiveMessageWaitTimeSeconds = String(queue.receiveWaitSeconds);
    if (queue.redrive) {
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: created.get(queue.redrive.deadLetterQueueId)?.arn,
        maxReceiveCount: queue.redrive.maxReceiveCount,
      });
    }
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: physicalName(place, queue.logicalId), Attributes: attributes }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    created.set(queue.logicalId, { url: QueueUrl!, arn: Attributes!.QueueArn! });
  }
  return created;
}

/** Creates each table with the template's keys and indexes (an existing one, kept in DATA_DIR, is reused). */
export async function createTables(dynamo: DynamoDBClient, place: LocalPlace, tables: readonly TableModel[]): Promise<void> {
  for (const table of tables) {
    try {
      await dynamo.send(
        new CreateTableCommand({
          TableName: physicalName(place, table.logicalId),
          BillingMode: table.billingMode === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED',
          AttributeDefinitions: table.attributeDefinitions.map(({ AttributeName, AttributeType }) => ({ AttributeName, AttributeType: AttributeType as 'S' | 'N' | 'B' })),
          KeySchema: table.keySchema.map(({ AttributeName, KeyType }) => ({ AttributeName, KeyType: KeyType as 'HASH' | 'RANGE' })),
          GlobalSecondaryIndexes: table.globalSecondaryIndexes.length
            ? table.globalSecondaryIndexes.map((index) => ({
                IndexName: index.IndexName,
                KeySchema: index.KeySchema.map(({ AttributeName, KeyType }) => ({ AttributeName, KeyType: KeyType as 'HASH' | 'RANGE' })),
                Projection: {
                  ProjectionType: index.Projection.ProjectionType as 'ALL' | 'KEYS_ONLY' | 'INCLUDE',
                  NonKeyAttributes: index.Projection.NonKeyAttributes,
                },
              }))
            : undefined,
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    }
  }
}

/** Creates each bucket (an existing one is reused). */
export async function createBuckets(s3: S3Client, place: LocalPlace, model: StackModel): Promise<void> {
  for (const bucket of model.buckets) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucketName(place, bucket.logicalId) }));
    } catch (error) {
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((error as Error).name)) throw error;
    }
  }
}

/** The name a resource has locally: a bus's own `Name`, a bucket's lower-case name, else its physical name. */
export function localResourceName(template: CfnTemplate, place: LocalPlace, logicalId: string): string {
  const resource = template.Resources[logicalId];
  if (resource?.Type === 'AWS::Events::EventBus' && resource.Properties?.Name !== undefined) return String(resource.Properties.Name);
  if (resource?.Type === 'AWS::S3::Bucket') return bucketName(place, logicalId);
  return physicalName(place, logicalId);
}

/**
 * What each resource of the template answers to `Ref` and `Fn::GetAtt` in the local stack: the
 * queues' URLs and ARNs as fauxqs gives them, names and ARNs built as AWS builds them, the API's
 * endpoint as the local API's URL.
 */
export function localResourceValues(
  template: CfnTemplate,
  place: LocalPlace,
  queues: ReadonlyMap<string, QueueRef>,
  apiUrl: string,
): Map<string, LocalResourceValues> {
  const { region, account } = place;
  const values = new Map<string, LocalResourceValues>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const name = physicalName(place, logicalId);
    const named = (ref: string, arn: string, more: Record<string, string> = {}): LocalResourceValues => ({ ref, attributes: { Arn: arn, ...more } });
    switch (resource.Type) {
      case 'AWS::SQS::Queue': {
        const queue = queues.get(logicalId);
        if (queue) values.set(logicalId, named(queue.url, queue.arn, { QueueUrl: queue.url, QueueName: name }));
        break;
      }
      case 'AWS::DynamoDB::GlobalTable':
        values.set(logicalId, named(name, `arn:aws:dynamodb:${region}:${account}:table/${name}`));
        break;
      case 'AWS::Events::EventBus': {
        const busName = String(resource.Properties?.Name ?? name);
        values.set(logicalId, named(busName, `arn:aws:events:${region}:${account}:event-bus/${busName}`, { Name: busName }));
        break;
      }
      case 'AWS::Events::Rule':
        values.set(logicalId, named(name, `arn:aws:events:${region}:${account}:rule/${name}`));
        break;
      case 'AWS::S3::Bucket': {
        const bucket = bucketName(place, logicalId);
        values.set(logicalId, named(bucket, `arn:aws:s3:::${bucket}`, { DomainName: `${bucket}.s3.amazonaws.com` }));
        break;
      }
      case 'AWS::Lambda::Function':
        values.set(logicalId, named(name, `arn:aws:lambda:${region}:${account}:function:${name}`));
        break;
      case 'AWS::ApiGatewayV2::Api':
        values.set(logicalId, { ref: 'local', attributes: { ApiEndpoint: apiUrl, ApiId: 'local' } });
        break;
      case 'AWS::SecretsManager::Secret': {
        const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${name}`;
        values.set(logicalId, named(arn, arn));
        break;
      }
      case 'AWS::IAM::Role':
        values.set(logicalId, named(name, `arn:aws:iam::${account}:role/${name}`, { RoleId: name }));
        break;
      case 'AWS::Logs::LogGroup':
        values.set(logicalId, named(name, `arn:aws:logs:${region}:${account}:log-group:${name}:*`));
        break;
      default:
        values.set(logicalId, { ref: name, attributes: {} });
    }
  }
  return values;
}
