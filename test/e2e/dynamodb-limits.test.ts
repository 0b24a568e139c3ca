import { AttributeValue, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS } from '../../lambdas/core/settings';
import { TestStack, startTestStack } from '../support/local-stack-harness';

/**
 * The local AWS endpoint refuses what DynamoDB refuses and dynalite would take, answering as
 * DynamoDB does: 400, a coral ValidationException with DynamoDB's message. Through the SDK.
 */
let t: TestStack;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  t = await startTestStack();
  dynamo = new DynamoDBClient({ endpoint: t.stack.awsEndpoint });
});
afterAll(() => t.stop());

function nested(levels: number): AttributeValue {
  let value: AttributeValue = { S: 'leaf' };
  for (let level = 1; level < levels; level++) value = { M: { n: value } };
  return value;
}

const key = (id: string): Record<string, AttributeValue> => ({
  [TABLE_KEYS.partitionKey]: { S: `limits#${id}` },
  [TABLE_KEYS.sortKey]: { S: 'item' },
});

async function refusal(item: Record<string, AttributeValue>): Promise<unknown> {
  return dynamo.send(new PutItemCommand({ TableName: t.stack.tableName, Item: item })).then(
    () => 'stored',
    (error: unknown) => error,
  );
}

test('a PutItem 33 levels deep gets a ValidationException; 32 levels are stored', async () => {
  const error = await refusal({ ...key('deep'), doc: nested(33) });
  expect(error).toMatchObject({
    name: 'ValidationException',
    message: 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit',
    $metadata: { httpStatusCode: 400 },
  });
  expect(await refusal({ ...key('deep'), doc: nested(32) })).toBe('stored');
});

test('the answer is DynamoDB JSON: a coral ValidationException with the message', async () => {
  const body = JSON.stringify({ TableName: t.stack.tableName, Item: { ...key('raw'), doc: nested(40) } });
  const response = await fetch(t.stack.awsEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' },
    body,
  });
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({
    __type: 'com.amazon.coral.validate#ValidationException',
    message: 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit',
  });
});

test('an item over 400 KB in UTF-8 bytes is refused though it is under 400 K characters', async () => {
  expect(await refusal({ ...key('big'), doc: { S: 'é'.repeat(210_000) } })).toMatchObject({
    name: 'ValidationException',
    message: 'Item size has exceeded the maximum allowed size',
  });
  expect(await refusal({ ...key('big'), doc: { S: 'é'.repeat(200_000) } })).toBe('stored');
});

test('a partition key over 2048 UTF-8 bytes and an empty index key are refused', async () => {
  expect(await refusal({ ...key('x'), [TABLE_KEYS.partitionKey]: { S: 'é'.repeat(1025) } })).toMatchObject({
    name: 'ValidationException',
    message: 'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes',
  });
  const indexKey = TABLE_KEYS.legacyTopicIndex.partitionKey;
  expect(await refusal({ ...key('gsi'), [indexKey]: { S: '' } })).toMatchObject({
    name: 'ValidationException',
    message: expect.stringContaining(`cannot contain an empty string value. IndexName: `) as unknown as string,
  });
});

test('an attribute name of 64 KB or more is refused, at the top level and as a map key', async () => {
  const message = '1 validation error detected: Attribute name is too large, must be less than 65536 bytes';
  expect(await refusal({ ...key('name'), ['n'.repeat(65_536)]: { S: 'x' } })).toMatchObject({ name: 'ValidationException', message });
  expect(await refusal({ ...key('name'), doc: { M: { ['n'.repeat(65_536)]: { S: 'x' } } } })).toMatchObject({ name: 'ValidationException', message });
  expect(await refusal({ ...key('name'), ['n'.repeat(65_535)]: { S: 'x' } })).toBe('stored');
});
