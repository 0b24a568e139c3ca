import { Item } from '../../local/dynamodb-limits';
import {
  BillingMeter,
  TableShape,
  apiRequestUnits,
  eventBridgeEntryUnits,
  readUnits,
  sqsRequestUnits,
  storedBytes,
  writeUnits,
} from '../../local/billing-meter';

/** The billing rules on the cases AWS's pricing pages and developer guides work through. */

const KB = 1024;
/** An item of exactly `bytes` billed bytes: pk "k" (2 + 1), then attribute "d" (1 + the rest). */
const itemOf = (bytes: number, extra: Item = {}): Item => ({ pk: { S: 'k' }, d: { S: 'x'.repeat(bytes - 4) }, ...extra });
const plain: TableShape = { keys: ['pk'], indexes: [] };
const withKeysOnlyIndex: TableShape = { keys: ['pk'], indexes: [{ keys: ['g'], projects: [] }] };

describe('SQS: each 64 KB chunk of a request is one request', () => {
  test('a 65 KB message is 2 requests; 64 KB is 1', () => {
    expect(sqsRequestUnits('SendMessage', { MessageBody: 'x'.repeat(65 * KB) }, {})).toBe(2);
    expect(sqsRequestUnits('SendMessage', { MessageBody: 'x'.repeat(64 * KB) }, {})).toBe(1);
  });

  test('a batch of ten is one request per 64 KB of its total', () => {
    const entries = (bytes: number) => Array.from({ length: 10 }, () => ({ MessageBody: 'x'.repeat(bytes) }));
    expect(sqsRequestUnits('SendMessageBatch', { Entries: entries(6 * KB) }, {})).toBe(1);
    expect(sqsRequestUnits('SendMessageBatch', { Entries: entries(7 * KB) }, {})).toBe(2);
  });

  test('a receive is billed by what it returns; an empty receive and a delete are 1', () => {
    expect(sqsRequestUnits('ReceiveMessage', {}, { Messages: [{ Body: 'x'.repeat(100 * KB) }, { Body: 'x'.repeat(100 * KB) }] })).toBe(4);
    expect(sqsRequestUnits('ReceiveMessage', {}, {})).toBe(1);
    expect(sqsRequestUnits('DeleteMessageBatch', { Entries: Array.from({ length: 10 }, () => ({})) }, {})).toBe(1);
  });

  test("an empty long poll is counted apart (the local pollers' wait stands in for Lambda's 20 s polls); an empty short poll is not", () => {
    const meter = new BillingMeter({});
    meter.sqs('ReceiveMessage', JSON.stringify({ QueueUrl: 'q', WaitTimeSeconds: 1 }), '{}');
    meter.sqs('ReceiveMessage', JSON.stringify({ QueueUrl: 'q', WaitTimeSeconds: 0 }), '{}');
    meter.sqs('ReceiveMessage', JSON.stringify({ QueueUrl: 'q', WaitTimeSeconds: 1 }), JSON.stringify({ Messages: [{ Body: 'x' }] }));
    expect(meter.counts).toMatchObject({ sqsRequests: 3, sqsEmptyReceives: 1 });
  });

  test('message attributes count toward the size', () => {
    const attributes = { big: { DataType: 'String', StringValue: 'y'.repeat(2 * KB) } };
    expect(sqsRequestUnits('SendMessage', { MessageBody: 'x'.repeat(63 * KB), MessageAttributes: attributes }, {})).toBe(2);
  });

  test('a batch sent to a queue that is an EventBridge target is billed per message, as EventBridge sends them one by one', () => {
    const meter = new BillingMeter({ eventBridgeTargetQueues: () => ['http://127.0.0.1:1/000000000000/fan-out'] });
    const body = JSON.stringify({ QueueUrl: 'http://127.0.0.1:1/000000000000/fan-out', Entries: Array.from({ length: 10 }, () => ({ MessageBody: 'x' })) });
    meter.sqs('SendMessageBatch', body, '{}');
    expect(meter.counts.sqsRequests).toBe(10);
    meter.sqs('SendMessageBatch', body.replace('/fan-out', '/delivery'), '{}');
    expect(meter.counts.sqsRequests).toBe(11);
  });
});

describe('EventBridge: each 64 KB chunk of an entry is one event', () => {
  test('a 65 KB detail is 2 events; a small one is 1', () => {
    expect(eventBridgeEntryUnits({ Source: 'tiledesk', DetailType: 'message.create', Detail: 'x'.repeat(65 * KB) })).toBe(2);
    expect(eventBridgeEntryUnits({ Source: 'tiledesk', DetailType: 'message.create', Detail: '{}' })).toBe(1);
  });
});

describe('DynamoDB on demand', () => {
  test('a 1.5 KB item write is 2 write units; 1 KB is 1', () => {
    expect(writeUnits(undefined, itemOf(1.5 * KB), plain)).toBe(2);
    expect(writeUnits(undefined, itemOf(KB), plain)).toBe(1);
  });

  test('an index entry is one more write by its projected size; a sparse index the item is not in costs nothing', () => {
    expect(writeUnits(undefined, itemOf(1.5 * KB, { g: { S: 'a' } }), withKeysOnlyIndex)).toBe(3);
    expect(writeUnits(undefined, itemOf(1.5 * KB), withKeysOnlyIndex)).toBe(2);
    const all: TableShape = { keys: ['pk'], indexes: [{ keys: ['g'], projects: 'ALL' }] };
    expect(writeUnits(undefined, itemOf(1.5 * KB, { g: { S: 'a' } }), all)).toBe(4);
  });

  test('an update bills the larger image; changing an index key writes the index twice (remove, put)', () => {
    const before = itemOf(3 * KB - 2, { g: { S: 'a' } });
    expect(writeUnits(before, itemOf(500, { g: { S: 'a' } }), withKeysOnlyIndex)).toBe(3);
    expect(writeUnits(before, itemOf(500, { g: { S: 'b' } }), withKeysOnlyIndex)).toBe(5);
  });

  test('a strongly consistent 5 KB read is 2 read units; eventually consistent, 1', () => {
    expect(readUnits([5 * KB], true, true)).toBe(2);
    expect(readUnits([5 * KB], false, true)).toBe(1);
  });

  test('a query sums its items before rounding; a batch get rounds each item', () => {
    expect(readUnits([1.5 * KB, 1.5 * KB, 1.5 * KB], true, false)).toBe(2);
    expect(readUnits([1.5 * KB, 1.5 * KB, 1.5 * KB], true, true)).toBe(3);
    expect(readUnits([], false, false)).toBe(0.5);
  });

  test('storage is the item and each index entry, with 100 bytes of overhead each', () => {
    const item = itemOf(KB, { g: { S: 'a' } });
    expect(storedBytes(item, plain)).toBe(KB + 2 + 100);
    expect(storedBytes(item, withKeysOnlyIndex)).toBe(KB + 2 + 100 + (3 + 2 + 100));
  });
});

test('API Gateway: each 512 KB of a request is one request', () => {
  expect(apiRequestUnits(100)).toBe(1);
  expect(apiRequestUnits(513 * KB)).toBe(2);
});

test('Lambda: each invocation rounds up to the next millisecond', async () => {
  const meter = new BillingMeter();
  meter.invocation('delivery', 10.2, 4);
  meter.invocation('delivery', 0.1, 0.1);
  expect(meter.counts.lambda.delivery).toMatchObject({ invocations: 2, billedMs: 12 });
  expect(meter.counts.lambda.delivery!.waitMs).toBeCloseTo(6.2);
  const timed = meter.timed('fan-out', async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  await timed(20);
  expect(meter.counts.lambda['fan-out']!.billedMs).toBeGreaterThanOrEqual(20);
});
