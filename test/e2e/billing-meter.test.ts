import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { TABLE_KEYS } from '../../lambdas/core/settings';
import { BillingMeter } from '../../local/billing-meter';
import { TestStack, startTestStack } from '../support/local-stack-harness';

/**
 * The meter counts what AWS bills for requests made through the SDK to the local AWS endpoint:
 * the sizes come from the wire and from dynalite, as the benchmark's cost model uses them.
 */
let t: TestStack;
let dynamo: DynamoDBClient;
let sqs: SQSClient;
const meter = new BillingMeter({ ttlAttribute: TABLE_KEYS.ttlAttribute });

beforeAll(async () => {
  t = await startTestStack({ meter });
  dynamo = new DynamoDBClient({ endpoint: t.stack.awsEndpoint });
  sqs = new SQSClient({ endpoint: t.stack.awsEndpoint });
});
afterAll(() => t.stop());

const KB = 1024;
const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;
/** An item of `bytes` billed bytes: pk "meter" (2 + 5), sk "item-n" (2 + 6), then "d" (1 + the rest). */
const item = (n: number, bytes: number) => ({ [PK]: { S: 'meter' }, [SK]: { S: `item-${n}` }, d: { S: 'x'.repeat(bytes - 16) } });

/** The units one request adds. */
async function unitsOf(send: () => Promise<unknown>): Promise<{ write: number; read: number; sqs: number }> {
  const before = { ...meter.counts };
  await send();
  await meter.settled();
  return {
    write: meter.counts.dynamoWriteUnits - before.dynamoWriteUnits,
    read: meter.counts.dynamoReadUnits - before.dynamoReadUnits,
    sqs: meter.counts.sqsRequests - before.sqsRequests,
  };
}

test('a 1.5 KB item write is 2 write units (no index entry: the indexes are sparse)', async () => {
  const units = await unitsOf(() => dynamo.send(new PutItemCommand({ TableName: t.stack.tableName, Item: item(1, 1.5 * KB) })));
  expect(units.write).toBe(2);
});

test('a strongly consistent read of a 5 KB item is 2 read units; eventually consistent, 1', async () => {
  await dynamo.send(new PutItemCommand({ TableName: t.stack.tableName, Item: item(2, 5 * KB) }));
  const key = { [PK]: { S: 'meter' }, [SK]: { S: 'item-2' } };
  expect((await unitsOf(() => dynamo.send(new GetItemCommand({ TableName: t.stack.tableName, Key: key, ConsistentRead: true })))).read).toBe(2);
  expect((await unitsOf(() => dynamo.send(new GetItemCommand({ TableName: t.stack.tableName, Key: key })))).read).toBe(1);
});

test('an update that shrinks a 5 KB item bills its old size, 5 units', async () => {
  const key = { [PK]: { S: 'meter' }, [SK]: { S: 'item-2' } };
  const units = await unitsOf(() =>
    dynamo.send(new UpdateItemCommand({ TableName: t.stack.tableName, Key: key, UpdateExpression: 'SET d = :d', ExpressionAttributeValues: { ':d': { S: 'small' } } })),
  );
  expect(units.write).toBe(5);
});

test('a query that projects one attribute still bills the whole items it read', async () => {
  await dynamo.send(new PutItemCommand({ TableName: t.stack.tableName, Item: item(3, 3 * KB) }));
  await dynamo.send(new PutItemCommand({ TableName: t.stack.tableName, Item: item(4, 3 * KB) }));
  const units = await unitsOf(() =>
    dynamo.send(
      new QueryCommand({
        TableName: t.stack.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk >= :from',
        ProjectionExpression: '#sk',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': { S: 'meter' }, ':from': { S: 'item-3' } },
        ConsistentRead: true,
      }),
    ),
  );
  expect(units.read).toBe(2); // 6 KB read, in 4 KB units
});

test('a 65 KB SQS message is 2 requests', async () => {
  const units = await unitsOf(() => sqs.send(new SendMessageCommand({ QueueUrl: t.stack.queues.deliveryDlq.url, MessageBody: 'x'.repeat(65 * KB) })));
  expect(units.sqs).toBe(2);
});
