/**
 * DynamoDB's item limits that dynalite does not enforce, checked on the local AWS endpoint so a
 * local run fails where AWS would. Sources: the DynamoDB Developer Guide's "Constraints" and
 * "Item sizes and formats" pages; the messages are DynamoDB's own, as captured against real
 * tables (dynalite's copies of them, and the public conformance suites' captures).
 *
 * dynalite's gaps, measured against dynalite 4.0.0: no nesting limit at all; item and key sizes
 * counted in UTF-16 code units instead of UTF-8 bytes (a 300,000-character item of "é" passes);
 * secondary-index keys neither size-checked nor refused when empty; attribute names (and map keys)
 * of any length. Its number checks are right;
 * they are repeated here so UpdateItem values and TransactWriteItems get them too.
 */

/** A DynamoDB JSON attribute value, as the wire protocol carries it. */
export interface AttributeValue {
  S?: string;
  N?: string;
  B?: string;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  SS?: string[];
  NS?: string[];
  BS?: string[];
}

export type Item = Record<string, AttributeValue>;

/** The key attributes of a table and of its secondary indexes. */
export interface TableKeys {
  partitionKey: string;
  sortKey?: string;
  indexes: { name: string; partitionKey: string; sortKey?: string }[];
}

/** DynamoDB's documented limits (binary units: 1 KB = 1024 bytes). */
export const DYNAMODB_LIMITS = {
  /** Levels of a map/list document, the top-level attribute counting as the first. */
  nestingLevels: 32,
  itemBytes: 400 * 1024,
  partitionKeyBytes: 2048,
  sortKeyBytes: 1024,
  /** "Attribute names must be … less than 64 KB", top-level names and map keys alike. */
  attributeNameBytes: 65_535,
  numberDigits: 38,
  /** Exponent (power of ten) of a number's leading digit: 1E-130 … 9.99…E+125. */
  numberMaxExponent: 125,
  numberMinExponent: -130,
} as const;

/** DynamoDB's messages for the limits above. */
export const LIMIT_MESSAGES = {
  nesting: 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit',
  itemSize: 'Item size has exceeded the maximum allowed size',
  updateItemSize: 'Item size to update has exceeded the maximum allowed size',
  numberOverflow: 'Number overflow. Attempting to store a number with magnitude larger than supported range',
  numberUnderflow: 'Number underflow. Attempting to store a number with magnitude smaller than supported range',
  numberDigits: 'Attempting to store more than 38 significant digits in a Number',
  attributeName: '1 validation error detected: Attribute name is too large, must be less than 65536 bytes',
  // "of2048" is DynamoDB's own spelling.
  partitionKeySize: 'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes',
  sortKeySize: 'One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes',
  emptyIndexKey: (index: string, attribute: string, type: 'string' | 'binary'): string =>
    'One or more parameter values are not valid. A value specified for a secondary index key is not supported. ' +
    `The AttributeValue for a key attribute cannot contain an empty ${type} value. IndexName: ${index}, IndexKey: ${attribute}`,
} as const;

/** The write actions whose items and values are checked. */
export const CHECKED_ACTIONS = ['PutItem', 'UpdateItem', 'BatchWriteItem', 'TransactWriteItems'] as const;
export type CheckedAction = (typeof CHECKED_ACTIONS)[number];

export function isCheckedAction(action: string): action is CheckedAction {
  return (CHECKED_ACTIONS as readonly string[]).includes(action);
}

/** The tables a request writes to, so their key schemas can be looked up before checking. */
export function tablesWritten(action: CheckedAction, request: Record<string, unknown>): string[] {
  if (action === 'PutItem' || action === 'UpdateItem') return typeof request.TableName === 'string' ? [request.TableName] : [];
  if (action === 'BatchWriteItem') return Object.keys(asRecord(request.RequestItems));
  return transactItems(request).flatMap((entry) => (typeof entry.TableName === 'string' ? [entry.TableName] : []));
}

/**
 * DynamoDB's refusal of a write request on item limits, or undefined if the limits hold (the
 * request may still fail upstream for other reasons). `keysOf` gives a table's key schema, or
 * undefined when unknown (then only the schema-free limits are checked).
 */
export function checkWriteRequest(
  action: CheckedAction,
  request: Record<string, unknown>,
  keysOf: (table: string) => TableKeys | undefined,
): string | undefined {
  switch (action) {
    case 'PutItem':
      return checkItem(asItem(request.Item), keysOf(String(request.TableName)));
    case 'UpdateItem':
      return checkUpdate(request, keysOf(String(request.TableName)));
    case 'BatchWriteItem':
      for (const [table, writes] of Object.entries(asRecord(request.RequestItems))) {
        for (const write of Array.isArray(writes) ? (writes as Record<string, unknown>[]) : []) {
          const put = asRecord(write?.PutRequest);
          const refusal = put.Item === undefined ? checkKey(asItem(asRecord(write?.DeleteRequest).Key), keysOf(table)) : checkItem(asItem(put.Item), keysOf(table));
          if (refusal) return refusal;
        }
      }
      return undefined;
    case 'TransactWriteItems':
      for (const entry of transactItemsWithKind(request)) {
        const keys = keysOf(String(entry.body.TableName));
        const refusal =
          entry.kind === 'Put'
            ? checkItem(asItem(entry.body.Item), keys)
            : entry.kind === 'Update'
              ? checkUpdate(entry.body, keys)
              : checkKey(asItem(entry.body.Key), keys);
        if (refusal) return refusal;
      }
      return undefined;
  }
}

/** A whole item as PutItem stores it: nesting, numbers, key sizes, index keys, item size. */
export function checkItem(item: Item, keys: TableKeys | undefined): string | undefined {
  if (Object.keys(item).some(isNameTooLarge)) return LIMIT_MESSAGES.attributeName;
  const values = Object.values(item);
  for (const value of values) {
    const refusal = checkValue(value);
    if (refusal) return refusal;
  }
  const keyRefusal = checkKey(item, keys) ?? checkIndexKeys(item, keys);
  if (keyRefusal) return keyRefusal;
  return itemSize(item) > DYNAMODB_LIMITS.itemBytes ? LIMIT_MESSAGES.itemSize : undefined;
}

/**
 * An update's values (ExpressionAttributeValues, AttributeUpdates): nesting and numbers. The
 * updated item's size needs the stored item, which dynalite checks (in characters); here only
 * values that alone pass the limit are refused.
 */
function checkUpdate(request: Record<string, unknown>, keys: TableKeys | undefined): string | undefined {
  const names = [...Object.values(asRecord(request.ExpressionAttributeNames)).map(String), ...Object.keys(asRecord(request.AttributeUpdates))];
  if (names.some(isNameTooLarge)) return LIMIT_MESSAGES.attributeName;
  const values: AttributeValue[] = [
    ...Object.values(asRecord(request.ExpressionAttributeValues)).map((value) => value as AttributeValue),
    ...Object.values(asRecord(request.AttributeUpdates)).flatMap((update) => {
      const value = asRecord(update).Value;
      return value === undefined ? [] : [value as AttributeValue];
    }),
  ];
  for (const value of values) {
    const refusal = checkValue(value);
    if (refusal) return refusal;
  }
  const keyRefusal = checkKey(asItem(request.Key), keys);
  if (keyRefusal) return keyRefusal;
  const bytes = values.reduce((sum, value) => sum + valueSize(value), 0);
  return bytes > DYNAMODB_LIMITS.itemBytes ? LIMIT_MESSAGES.updateItemSize : undefined;
}

/** One attribute value: nesting depth, then every number and map key in it. */
export function checkValue(value: AttributeValue): string | undefined {
  if (nestingDepth(value, DYNAMODB_LIMITS.nestingLevels + 1) > DYNAMODB_LIMITS.nestingLevels) return LIMIT_MESSAGES.nesting;
  return checkContents(value);
}

function isNameTooLarge(name: string): boolean {
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so names under a third of the limit need no count.
  return name.length * 3 > DYNAMODB_LIMITS.attributeNameBytes && Buffer.byteLength(name, 'utf8') > DYNAMODB_LIMITS.attributeNameBytes;
}

/**
 * Levels of a value: 1 for a scalar or set, 1 + the deepest element for a map or list. Stops
 * counting at `stopAt`, so a value nested thousands deep costs no more than one 33 deep.
 */
export function nestingDepth(value: AttributeValue, stopAt = Number.POSITIVE_INFINITY): number {
  const children = value.M ? Object.values(value.M) : value.L;
  if (!children || stopAt <= 1) return 1;
  let deepest = 0;
  for (const child of children) {
    deepest = Math.max(deepest, nestingDepth(child, stopAt - 1));
    if (deepest >= stopAt - 1) break;
  }
  return 1 + deepest;
}

function checkContents(value: AttributeValue): string | undefined {
  if (value.N !== undefined) return checkNumber(value.N);
  if (value.M && Object.keys(value.M).some(isNameTooLarge)) return LIMIT_MESSAGES.attributeName;
  if (value.NS) {
    for (const number of value.NS) {
      const refusal = checkNumber(number);
      if (refusal) return refusal;
    }
  }
  const children = value.M ? Object.values(value.M) : (value.L ?? []);
  for (const child of children) {
    const refusal = checkContents(child);
    if (refusal) return refusal;
  }
  return undefined;
}

/** A number's range and precision; a malformed number is left to dynalite's own message. */
export function checkNumber(text: string): string | undefined {
  const parsed = parseNumber(text);
  if (!parsed || parsed.digits.length === 0) return undefined;
  if (parsed.exponent > DYNAMODB_LIMITS.numberMaxExponent) return LIMIT_MESSAGES.numberOverflow;
  if (parsed.exponent < DYNAMODB_LIMITS.numberMinExponent) return LIMIT_MESSAGES.numberUnderflow;
  if (parsed.digits.length > DYNAMODB_LIMITS.numberDigits) return LIMIT_MESSAGES.numberDigits;
  return undefined;
}

/** Significant digits (no leading or trailing zeros; empty for zero) and the leading digit's power of ten. */
function parseNumber(text: string): { digits: string; exponent: number } | undefined {
  const match = /^\s*[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!match || (match[1] === '' && (match[2] ?? '') === '')) return undefined;
  const whole = match[1] ?? '';
  const fraction = match[2] ?? '';
  const all = whole + fraction;
  const leadingZeros = all.length - all.replace(/^0+/, '').length;
  const digits = all.slice(leadingZeros).replace(/0+$/, '');
  const exponent = whole.length - 1 - leadingZeros + Number(match[3] ?? 0);
  return { digits, exponent };
}

/** The table's key attributes: present ones within their byte limits (empty ones dynalite refuses). */
function checkKey(item: Item, keys: TableKeys | undefined): string | undefined {
  if (!keys) return undefined;
  const partition = item[keys.partitionKey];
  if (partition && keyBytes(partition) > DYNAMODB_LIMITS.partitionKeyBytes) return LIMIT_MESSAGES.partitionKeySize;
  const sort = keys.sortKey === undefined ? undefined : item[keys.sortKey];
  if (sort && keyBytes(sort) > DYNAMODB_LIMITS.sortKeyBytes) return LIMIT_MESSAGES.sortKeySize;
  return undefined;
}

/** Secondary-index keys of an item: never empty, within the key byte limits. */
function checkIndexKeys(item: Item, keys: TableKeys | undefined): string | undefined {
  // DynamoDB names the alphabetically first index when an attribute keys several.
  const indexes = [...(keys?.indexes ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  for (const index of indexes) {
    for (const [attribute, limit, message] of [
      [index.partitionKey, DYNAMODB_LIMITS.partitionKeyBytes, LIMIT_MESSAGES.partitionKeySize],
      [index.sortKey, DYNAMODB_LIMITS.sortKeyBytes, LIMIT_MESSAGES.sortKeySize],
    ] as const) {
      const value = attribute === undefined ? undefined : item[attribute];
      if (!value || attribute === undefined) continue;
      if (value.S === '') return LIMIT_MESSAGES.emptyIndexKey(index.name, attribute, 'string');
      if (value.B !== undefined && base64Bytes(value.B) === 0) {
        return LIMIT_MESSAGES.emptyIndexKey(index.name, attribute, 'binary');
      }
      if (keyBytes(value) > limit) return message;
    }
  }
  return undefined;
}

function keyBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.B !== undefined) return base64Bytes(value.B);
  return 0; // numbers are always within the key limits
}

/**
 * An item's size as DynamoDB counts it: each attribute's UTF-8 name plus its value; a map or
 * list is 3 bytes plus its elements, each element 1 byte more (a map element also its name).
 */
export function itemSize(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return bytes;
}

export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return base64Bytes(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0);
  if (value.NS) return value.NS.reduce((sum, number) => sum + numberSize(number), 0);
  if (value.BS) return value.BS.reduce((sum, data) => sum + base64Bytes(data), 0);
  if (value.M) {
    let bytes = 3;
    for (const [name, element] of Object.entries(value.M)) bytes += Buffer.byteLength(name, 'utf8') + 1 + valueSize(element);
    return bytes;
  }
  if (value.L) return value.L.reduce((sum, element) => sum + 1 + valueSize(element), 3);
  return 0;
}

/** The raw length of wire base64 (no whitespace), without decoding it: attempt logs carry large binaries. */
function base64Bytes(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** "1 byte per two significant digits, plus 1 byte". */
function numberSize(text: string): number {
  const digits = parseNumber(text)?.digits.length ?? text.length;
  return 1 + Math.ceil(Math.max(1, digits) / 2);
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function asItem(value: unknown): Item {
  return asRecord(value) as Item;
}

function transactItemsWithKind(request: Record<string, unknown>): { kind: string; body: Record<string, unknown> }[] {
  const entries = Array.isArray(request.TransactItems) ? (request.TransactItems as unknown[]) : [];
  return entries.flatMap((entry) =>
    Object.entries(asRecord(entry))
      .filter(([kind]) => ['Put', 'Update', 'Delete', 'ConditionCheck'].includes(kind))
      .map(([kind, body]) => ({ kind, body: asRecord(body) })),
  );
}

function transactItems(request: Record<string, unknown>): Record<string, unknown>[] {
  return transactItemsWithKind(request).map((entry) => entry.body);
}
