import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import * as path from 'node:path';
import { TABLE_KEYS } from '../../../lambdas/core/settings';
import { runAsFunction } from '../../../local/iam/function-credentials';
import { localFunctionIds } from '../../../local/iam/template-functions';
import { LocalStack } from '../../../local/local-stack';
import { synthesizeTemplate } from '../../../local/template/synth';
import { TestStack, startTestStack } from '../../support/local-stack-harness';

/**
 * The local AWS endpoint authorizes each function's calls (access key id = the function's
 * logical id in the synthesized template) against that function's role, and refuses what the
 * role does not grant with the service's own error, as AWS would.
 */
let test$: TestStack;
let stack: LocalStack;
let ids: Record<string, string>;

beforeAll(async () => {
  ids = localFunctionIds(synthesizeTemplate());
  test$ = await startTestStack();
  stack = test$.stack;
});
afterAll(() => test$?.stop());

/** SDK clients that sign with `accessKeyId`, pointed at the local AWS endpoint. */
function clientsOf(accessKeyId: string) {
  const config = {
    endpoint: stack.awsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'local' },
  };
  return {
    dynamo: new DynamoDBClient(config),
    sqs: new SQSClient(config),
    events: new EventBridgeClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
  };
}

const tableArn = (): string => `arn:aws:dynamodb:us-east-1:000000000000:table/${stack.tableName}`;
const principal = (fn: string): RegExp => new RegExp(`^User: arn:aws:sts::000000000000:assumed-role/[A-Za-z0-9]+/${ids[fn]} is not authorized`);

/** The error a call rejected with. */
async function refusal(call: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  const error = (await call.then(
    () => undefined,
    (rejected: unknown) => rejected,
  )) as { name: string; message: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (!error) throw new Error('the call was allowed');
  return { name: error.name, message: error.message, status: error.$metadata?.httpStatusCode };
}

describe('DynamoDB', () => {
  it('allows the fan-out to query the guards\' keys and subscription ids, and nothing else of an item (no secret)', async () => {
    const { dynamo } = clientsOf(ids['fan-out']!);
    const query = (projection?: string) =>
      dynamo.send(
        new QueryCommand({
          TableName: stack.tableName,
          KeyConditionExpression: '#k = :v',
          ...(projection ? { ProjectionExpression: projection } : {}),
          ExpressionAttributeNames: { '#k': TABLE_KEYS.partitionKey },
          ExpressionAttributeValues: { ':v': { S: 'PROJECT#nobody' } },
          ConsistentRead: true,
        }),
      );
    expect((await query('sk, subscriptionId')).Items).toEqual([]);
    for (const refused of [await refusal(query()), await refusal(query('sk, secret'))]) {
      expect(refused.name).toBe('AccessDeniedException');
      expect(refused.message).toContain(`dynamodb:Query on resource: ${tableArn()}`);
    }
  });

  it('refuses the fan-out a write, with AccessDeniedException naming action and table', async () => {
    const { dynamo } = clientsOf(ids['fan-out']!);
    const error = await refusal(
      dynamo.send(new PutItemCommand({ TableName: stack.tableName, Item: { [TABLE_KEYS.partitionKey]: { S: 'x' }, [TABLE_KEYS.sortKey]: { S: 'y' } } })),
    );
    expect(error.name).toBe('AccessDeniedException');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(principal('fan-out'));
    expect(error.message).toContain(
      `is not authorized to perform: dynamodb:PutItem on resource: ${tableArn()} because no identity-based policy allows the dynamodb:PutItem action`,
    );
  });

  it('refuses a query of an index the role does not name', async () => {
    const { dynamo } = clientsOf(ids['fan-out']!);
    const error = await refusal(
      dynamo.send(
        new QueryCommand({
          TableName: stack.tableName,
          IndexName: 'byTarget',
          KeyConditionExpression: '#k = :v',
          ExpressionAttributeNames: { '#k': TABLE_KEYS.partitionKey },
          ExpressionAttributeValues: { ':v': { S: 'x' } },
        }),
      ),
    );
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toContain(`dynamodb:Query on resource: ${tableArn()}/index/byTarget because`);
  });

  it('lets any other key (tests, tools) act as an administrator', async () => {
    const { dynamo } = clientsOf('AKIDADMINISTRATOR');
    const key = { [TABLE_KEYS.partitionKey]: { S: 'admin' }, [TABLE_KEYS.sortKey]: { S: 'probe' } };
    await dynamo.send(new PutItemCommand({ TableName: stack.tableName, Item: key }));
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: stack.tableName, Key: key }));
    expect(Item).toEqual(key);
  });
});

describe('SQS', () => {
  it('allows the fan-out to send to the fast delivery queue and refuses the slow one with AccessDenied', async () => {
    const { sqs } = clientsOf(ids['fan-out']!);
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.delivery.url, MessageBody: '{}', DelaySeconds: 900 }));
    expect(sent.MessageId).toBeTruthy();
    const error = await refusal(sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.slowDelivery.url, MessageBody: '{}' })));
    expect(error.name).toBe('AccessDenied');
    expect(error.status).toBe(403);
    expect(error.message).toMatch(principal('fan-out'));
    // SQS writes the action in lower case.
    expect(error.message).toContain(
      `is not authorized to perform: sqs:sendmessage on resource: ${stack.queues.slowDelivery.arn} because no identity-based policy allows the sqs:sendmessage action`,
    );
  });

  it('authorizes SendMessageBatch as sqs:SendMessage', async () => {
    const { sqs } = clientsOf(ids['subscriptions-api']!);
    const error = await refusal(
      sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queues.deliveryDlq.url, Entries: [{ Id: '1', MessageBody: '{}' }] })),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toContain(`sqs:sendmessage on resource: ${stack.queues.deliveryDlq.arn}`);
  });
});

describe('EventBridge', () => {
  it('allows the ingest function to publish on the bus and refuses the fan-out with AccessDeniedException', async () => {
    const entry = { Source: 'tiledesk', DetailType: 'iam.probe', Detail: '{"id_project":"iam-probe"}', EventBusName: stack.busName };
    const allowed = await clientsOf(ids['ingest-api']!).events.send(new PutEventsCommand({ Entries: [entry] }));
    expect(allowed.FailedEntryCount).toBe(0);
    const error = await refusal(clientsOf(ids['fan-out']!).events.send(new PutEventsCommand({ Entries: [entry] })));
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toMatch(principal('fan-out'));
    expect(error.message).toContain(
      `events:PutEvents on resource: arn:aws:events:us-east-1:000000000000:event-bus/${stack.busName} because no identity-based policy allows the events:PutEvents action`,
    );
  });
});

describe('S3', () => {
  it('allows the ingest function to write a claim check and refuses it the read the delivery function has', async () => {
    const bucket = stack.claimCheckBucket;
    const key = 'events/iam-probe.json';
    await clientsOf(ids['ingest-api']!).s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{}' }));
    const read = await clientsOf(ids.delivery!).s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await read.Body?.transformToString()).toBe('{}');
    const error = await refusal(clientsOf(ids['ingest-api']!).s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    expect(error.name).toBe('AccessDenied');
    expect(error.status).toBe(403);
    expect(error.message).toMatch(principal('ingest-api'));
    expect(error.message).toContain(`s3:GetObject on resource: "arn:aws:s3:::${bucket}/${key}" because no identity-based policy allows the s3:GetObject action`);
  });

  it('answers a read of a missing object with 403, not 404, to a role without s3:ListBucket, as S3 does', async () => {
    const bucket = stack.claimCheckBucket;
    const error = await refusal(clientsOf(ids.delivery!).s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'events/expired.json' })));
    expect(error.name).toBe('AccessDenied');
    expect(error.status).toBe(403);
    expect(error.message).toContain(`s3:ListBucket on resource: "arn:aws:s3:::${bucket}"`);
    // An administrator (the benches, the tools) may list: a 404 it is.
    const missing = await refusal(clientsOf('AKIDADMINISTRATOR').s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'events/expired.json' })));
    expect(missing.status).toBe(404);
  });
});

describe('calls made while a function runs', () => {
  it('go out through the one SDK HTTP handler whose requests carry the function (no client has its own copy)', () => {
    const handlerOf = (client: string): string =>
      require.resolve('@smithy/node-http-handler', { paths: [path.dirname(require.resolve(client))] });
    const clients = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-eventbridge', '@aws-sdk/client-s3', '@aws-sdk/client-secrets-manager'];
    expect(new Set(clients.map(handlerOf))).toEqual(new Set([require.resolve('@smithy/node-http-handler')]));
  });


  it('carry the function as their access key, whatever key the shared client was built with', async () => {
    const { dynamo } = clientsOf('AKIDADMINISTRATOR');
    const put = new PutItemCommand({ TableName: stack.tableName, Item: { [TABLE_KEYS.partitionKey]: { S: 'as' }, [TABLE_KEYS.sortKey]: { S: 'fn' } } });
    const error = await refusal(runAsFunction(ids['fan-out']!, () => dynamo.send(put)));
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toMatch(principal('fan-out'));
    // The same client outside the function is the administrator again.
    await expect(dynamo.send(put)).resolves.toBeDefined();
  });
});

describe('the grants the functions need', () => {
  it('let operator.select log an attempt item by item when DynamoDB refuses its batch', async () => {
    // Loaded once the stack has pointed the SDK at itself, as the handlers are.
    const { AttemptLogStore } = await import('../../../lambdas/adapters/attempt-log-store');
    const { newLogId } = await import('../../../lambdas/core/attempt');
    const store = new AttemptLogStore(stack.tableName);
    const attempt = {
      logId: newLogId(new Date()),
      projectId: 'p-iam-fallback',
      subscriptionId: 's1',
      webhookId: 'w1',
      eventId: 'e1',
      event: 'operator.select',
      target: 'http://127.0.0.1:1/hook',
      attempt: 1,
      outcome: 'delivered' as const,
      durationMs: 1,
      attemptedAt: new Date().toISOString(),
      // Past DynamoDB's 400 KB item: the batch is refused, then PutItem of the item alone, then
      // PutItem of the item without payload and response is taken.
      responseBody: 'x'.repeat(410 * 1024),
      payload: { id_project: 'p-iam-fallback' },
    };
    await runAsFunction(ids['operator-select']!, () => store.write([attempt]));
    const [logged] = (await store.listBySubscription('p-iam-fallback', 's1', 10)).items;
    expect(logged).toMatchObject({ logId: attempt.logId, payloadOmitted: 'refused by DynamoDB' });
    expect(logged?.responseBody).toBeUndefined();
  });
});
