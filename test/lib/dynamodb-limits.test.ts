import {
  AttributeValue,
  DYNAMODB_LIMITS,
  Item,
  LIMIT_MESSAGES,
  TableKeys,
  checkNumber,
  checkWriteRequest,
  itemSize,
  nestingDepth,
} from '../../local/dynamodb-limits';

/** A value of `levels` levels: `levels - 1` maps around a string (the top-level map is level 1). */
function nested(levels: number, leaf: AttributeValue = { S: 'leaf' }): AttributeValue {
  let value = leaf;
  for (let level = 1; level < levels; level++) value = { M: { n: value } };
  return value;
}

const KEYS: TableKeys = { partitionKey: 'pk', sortKey: 'sk', indexes: [{ name: 'byTopic', partitionKey: 'topicKey', sortKey: 'createdAt' }] };
const keysOf = (): TableKeys => KEYS;
const put = (item: Item): string | undefined => checkWriteRequest('PutItem', { TableName: 't', Item: { pk: { S: 'p' }, sk: { S: 's' }, ...item } }, keysOf);

describe('nesting: 32 levels, the top-level attribute counting as the first', () => {
  test('depth counts a scalar as 1 and each map or list around it as 1 more', () => {
    expect(nestingDepth({ S: 'x' })).toBe(1);
    expect(nestingDepth({ M: {} })).toBe(1);
    expect(nestingDepth({ L: [{ N: '1' }, { M: { a: { L: [] } } }] })).toBe(3);
    expect(nestingDepth(nested(33))).toBe(33);
  });

  test('32 levels are stored, 33 are refused with DynamoDB\'s message, maps and lists alike', () => {
    expect(put({ doc: nested(32) })).toBeUndefined();
    expect(put({ doc: nested(33) })).toBe(LIMIT_MESSAGES.nesting);
    let list: AttributeValue = { BOOL: true };
    for (let level = 1; level < 33; level++) list = { L: [{ NULL: true }, list] };
    expect(put({ doc: list })).toBe(LIMIT_MESSAGES.nesting);
  });

  test('a value thousands of levels deep is refused without walking it all (no stack overflow)', () => {
    expect(put({ doc: nested(50_000) })).toBe(LIMIT_MESSAGES.nesting);
  });

  test('UpdateItem values, BatchWriteItem puts and TransactWriteItems puts and updates are checked too', () => {
    const key = { pk: { S: 'p' }, sk: { S: 's' } };
    expect(
      checkWriteRequest('UpdateItem', { TableName: 't', Key: key, UpdateExpression: 'SET d = :d', ExpressionAttributeValues: { ':d': nested(33) } }, keysOf),
    ).toBe(LIMIT_MESSAGES.nesting);
    expect(checkWriteRequest('UpdateItem', { TableName: 't', Key: key, AttributeUpdates: { d: { Action: 'PUT', Value: nested(33) } } }, keysOf)).toBe(
      LIMIT_MESSAGES.nesting,
    );
    expect(
      checkWriteRequest('BatchWriteItem', { RequestItems: { t: [{ DeleteRequest: { Key: key } }, { PutRequest: { Item: { ...key, d: nested(33) } } }] } }, keysOf),
    ).toBe(LIMIT_MESSAGES.nesting);
    expect(checkWriteRequest('TransactWriteItems', { TransactItems: [{ Put: { TableName: 't', Item: { ...key, d: nested(33) } } }] }, keysOf)).toBe(
      LIMIT_MESSAGES.nesting,
    );
    expect(
      checkWriteRequest(
        'TransactWriteItems',
        { TransactItems: [{ Update: { TableName: 't', Key: key, UpdateExpression: 'SET d = :d', ExpressionAttributeValues: { ':d': nested(33) } } }] },
        keysOf,
      ),
    ).toBe(LIMIT_MESSAGES.nesting);
    expect(checkWriteRequest('BatchWriteItem', { RequestItems: { t: [{ PutRequest: { Item: { ...key, d: nested(32) } } }] } }, keysOf)).toBeUndefined();
  });
});

describe('numbers: 38 significant digits, magnitude 1E-130 to 9.99…E+125', () => {
  test.each([
    ['0', undefined],
    ['-0.000', undefined],
    ['1'.repeat(38), undefined],
    ['1'.repeat(38) + '000', undefined],
    ['0.' + '0'.repeat(10) + '1'.repeat(38), undefined],
    ['1'.repeat(39), LIMIT_MESSAGES.numberDigits],
    ['1.' + '0'.repeat(37) + '1', LIMIT_MESSAGES.numberDigits],
    ['9.9999999999999999999999999999999999999E+125', undefined],
    ['-9.9999999999999999999999999999999999999E+125', undefined],
    ['1E+126', LIMIT_MESSAGES.numberOverflow],
    ['-1E126', LIMIT_MESSAGES.numberOverflow],
    ['10E125', LIMIT_MESSAGES.numberOverflow],
    ['1E-130', undefined],
    ['-1E-130', undefined],
    ['0.1E-129', undefined],
    ['1E-131', LIMIT_MESSAGES.numberUnderflow],
    ['0.01E-129', LIMIT_MESSAGES.numberUnderflow],
  ])('%s', (number, refusal) => {
    expect(checkNumber(number)).toBe(refusal);
  });

  test('numbers anywhere in the item are checked: in maps, lists and number sets', () => {
    expect(put({ doc: { M: { a: { L: [{ N: '1E126' }] } } } })).toBe(LIMIT_MESSAGES.numberOverflow);
    expect(put({ set: { NS: ['1', '1E-131'] } })).toBe(LIMIT_MESSAGES.numberUnderflow);
  });
});

describe('item size: 400 KB of UTF-8 attribute names and values', () => {
  test('sizes follow the Developer Guide', () => {
    // "id"(2)+"abc"(3) + "n"(1)+12345(1+3) + "flag"(4)+1 + "l"(1)+3+(1+"xy"(2)) + "m"(1)+3+("é"(2)+1+NULL(1))
    const item: Item = {
      id: { S: 'abc' },
      n: { N: '12345' },
      flag: { BOOL: true },
      l: { L: [{ S: 'xy' }] },
      m: { M: { é: { NULL: true } } },
    };
    expect(itemSize(item)).toBe(5 + 5 + 5 + 7 + 8);
    expect(itemSize({ b: { B: Buffer.alloc(10).toString('base64') } })).toBe(11);
  });

  test('exactly 400 KB is stored, one byte more is refused', () => {
    const base = itemSize({ pk: { S: 'p' }, sk: { S: 's' }, d: { S: '' } });
    expect(put({ d: { S: 'x'.repeat(DYNAMODB_LIMITS.itemBytes - base) } })).toBeUndefined();
    expect(put({ d: { S: 'x'.repeat(DYNAMODB_LIMITS.itemBytes - base + 1) } })).toBe(LIMIT_MESSAGES.itemSize);
  });

  test('multi-byte characters count as their UTF-8 bytes (dynalite counts characters)', () => {
    expect(put({ d: { S: 'é'.repeat(210_000) } })).toBe(LIMIT_MESSAGES.itemSize);
  });

  test('an update whose values alone exceed 400 KB is refused with the update wording', () => {
    expect(
      checkWriteRequest(
        'UpdateItem',
        { TableName: 't', Key: { pk: { S: 'p' }, sk: { S: 's' } }, ExpressionAttributeValues: { ':d': { S: 'é'.repeat(210_000) } } },
        keysOf,
      ),
    ).toBe(LIMIT_MESSAGES.updateItemSize);
  });
});

describe('attribute names: under 64 KB (65,535 UTF-8 bytes), top-level and map keys alike', () => {
  const key = { pk: { S: 'p' }, sk: { S: 's' } };
  test('65,535 bytes are stored, 65,536 refused, wherever the name is', () => {
    expect(put({ ['n'.repeat(65_535)]: { S: 'x' } })).toBeUndefined();
    expect(put({ ['n'.repeat(65_536)]: { S: 'x' } })).toBe(LIMIT_MESSAGES.attributeName);
    expect(put({ doc: { M: { ['é'.repeat(32_768)]: { S: 'x' } } } })).toBe(LIMIT_MESSAGES.attributeName);
    expect(put({ doc: { L: [{ M: { ['n'.repeat(65_536)]: { NULL: true } } }] } })).toBe(LIMIT_MESSAGES.attributeName);
  });

  test('an update names its attribute in ExpressionAttributeNames or carries it in a value', () => {
    const update = (request: Record<string, unknown>): string | undefined =>
      checkWriteRequest('UpdateItem', { TableName: 't', Key: key, UpdateExpression: 'SET #n = :v', ...request }, keysOf);
    expect(update({ ExpressionAttributeNames: { '#n': 'n'.repeat(65_536) }, ExpressionAttributeValues: { ':v': { S: 'x' } } })).toBe(
      LIMIT_MESSAGES.attributeName,
    );
    expect(update({ ExpressionAttributeNames: { '#n': 'doc' }, ExpressionAttributeValues: { ':v': { M: { ['n'.repeat(65_536)]: { S: 'x' } } } } })).toBe(
      LIMIT_MESSAGES.attributeName,
    );
    expect(update({ ExpressionAttributeNames: { '#n': 'n'.repeat(65_535) }, ExpressionAttributeValues: { ':v': { S: 'x' } } })).toBeUndefined();
  });
});

describe('keys: partition key 2048 bytes, sort key 1024 bytes, index keys never empty', () => {
  test('table keys are measured in UTF-8 bytes', () => {
    const item = (pk: string, sk: string): Item => ({ pk: { S: pk }, sk: { S: sk } });
    expect(checkWriteRequest('PutItem', { TableName: 't', Item: item('é'.repeat(1024), 's') }, keysOf)).toBeUndefined();
    expect(checkWriteRequest('PutItem', { TableName: 't', Item: item('é'.repeat(1025), 's') }, keysOf)).toBe(LIMIT_MESSAGES.partitionKeySize);
    expect(checkWriteRequest('PutItem', { TableName: 't', Item: item('p', 'é'.repeat(513)) }, keysOf)).toBe(LIMIT_MESSAGES.sortKeySize);
    expect(
      checkWriteRequest('UpdateItem', { TableName: 't', Key: item('é'.repeat(1025), 's'), UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': { S: 'x' } } }, keysOf),
    ).toBe(LIMIT_MESSAGES.partitionKeySize);
  });

  test('an empty or oversized secondary-index key is refused, naming the index', () => {
    expect(put({ topicKey: { S: '' } })).toBe(
      'One or more parameter values are not valid. A value specified for a secondary index key is not supported. ' +
        'The AttributeValue for a key attribute cannot contain an empty string value. IndexName: byTopic, IndexKey: topicKey',
    );
    expect(put({ topicKey: { S: 'x'.repeat(2049) } })).toBe(LIMIT_MESSAGES.partitionKeySize);
    expect(put({ topicKey: { S: 't' }, createdAt: { S: 'x'.repeat(1025) } })).toBe(LIMIT_MESSAGES.sortKeySize);
    expect(put({ topicKey: { S: 't' }, createdAt: { S: '2026' } })).toBeUndefined();
  });

  test('without a known key schema only the schema-free limits apply', () => {
    const item = { pk: { S: 'é'.repeat(2000) }, topicKey: { S: '' } };
    expect(checkWriteRequest('PutItem', { TableName: 'unknown', Item: item }, () => undefined)).toBeUndefined();
  });
});
