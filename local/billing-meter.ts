/**
 * Counts what AWS would bill for the requests the local stack makes, from the requests and
 * responses themselves, by the services' published billing rules. The local AWS endpoint hands
 * every request to it (`local/aws-endpoint.ts`), the local stack times each function invocation
 * and API request through it; `bench/` prices the counts (`bench/aws-price-list.ts`).
 *
 * The rules, as AWS documents them:
 * - EventBridge: each 64 KB chunk of a PutEvents entry is one event
 *   (https://aws.amazon.com/eventbridge/pricing/, "64 KB chunk").
 * - SQS: each 64 KB chunk of a request's payload is one request; a batch of ten is one request
 *   per 64 KB of its total (https://aws.amazon.com/sqs/pricing/). A queue that is an EventBridge
 *   rule's target is sent one SendMessage per event on AWS, so its batch sends count per message.
 * - DynamoDB on demand: a write is one unit per 1 KB of the item (the larger of its old and new
 *   image for an update or replacement), a read one unit per 4 KB, half for an eventually
 *   consistent read; a Query sums the sizes of all items it read (projection and filter do not
 *   make it cheaper); a BatchGetItem rounds each item up on its own; each global secondary index
 *   entry the write puts or removes is one more write by its projected size; TTL deletions are
 *   free (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html).
 * - Storage: item bytes plus 100 bytes of overhead per item and per index entry
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html),
 *   held until the item's TTL, which is what an item with a TTL costs at the configured retention.
 * - API Gateway HTTP APIs: each 512 KB of a request is one request (https://aws.amazon.com/api-gateway/pricing/).
 * - Lambda: each invocation's duration rounded up to 1 ms, times the function's memory.
 */
import { Item, itemSize } from './dynamodb-limits';

const KB = 1024;
const SQS_CHUNK_BYTES = 64 * KB;
const EVENTBRIDGE_CHUNK_BYTES = 64 * KB;
const API_CHUNK_BYTES = 512 * KB;
const WRITE_UNIT_BYTES = KB;
const READ_UNIT_BYTES = 4 * KB;
/** DynamoDB's per-item (and per index entry) storage overhead. */
const STORAGE_OVERHEAD_BYTES = 100;

/** Billed 64 KB (or other) chunks of a payload: at least one. */
export const chunks = (bytes: number, chunkBytes: number): number => Math.max(1, Math.ceil(bytes / chunkBytes));

/** SQS requests one call is billed as: its messages' bodies and attributes in 64 KB chunks. */
export function sqsRequestUnits(action: string, request: SqsWire, response: SqsWire): number {
  const messageBytes = (message: SqsMessageWire): number =>
    Buffer.byteLength(message.MessageBody ?? message.Body ?? '') +
    Object.entries(message.MessageAttributes ?? {}).reduce(
      (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? ''),
      0,
    );
  const sum = (messages: SqsMessageWire[] | undefined): number => (messages ?? []).reduce((total, message) => total + messageBytes(message), 0);
  switch (action) {
    case 'SendMessage':
      return chunks(messageBytes(request), SQS_CHUNK_BYTES);
    case 'SendMessageBatch':
      return chunks(sum(request.Entries), SQS_CHUNK_BYTES);
    case 'ReceiveMessage':
      return chunks(sum(response.Messages), SQS_CHUNK_BYTES);
    default:
      return 1;
  }
}

/** EventBridge events one PutEvents entry is billed as (its size as EventBridge computes it, in 64 KB chunks). */
export function eventBridgeEntryUnits(entry: EventEntryWire): number {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
  const bytes =
    (entry.Time ? 14 : 0) +
    Buffer.byteLength(entry.Source ?? '') +
    Buffer.byteLength(entry.DetailType ?? '') +
    Buffer.byteLength(entry.Detail ?? '') +
    (entry.Resources ?? []).reduce((sum, resource) => sum + Buffer.byteLength(resource), 0);
  return chunks(bytes, EVENTBRIDGE_CHUNK_BYTES);
}

/** API Gateway requests one HTTP API request is billed as. */
export const apiRequestUnits = (requestBytes: number): number => chunks(requestBytes, API_CHUNK_BYTES);

/** A global secondary index as DescribeTable shows it. */
export interface IndexShape {
  keys: string[];
  /** Non-key attributes projected: all of them, or these names. */
  projects: 'ALL' | string[];
}

/** The table's key attributes and indexes, for index entry sizes. */
export interface TableShape {
  keys: string[];
  indexes: IndexShape[];
}

/** An item's projection into an index, or undefined if the item has not all of the index's keys (sparse index). */
export function indexEntry(item: Item, table: TableShape, index: IndexShape): Item | undefined {
  if (!index.keys.every((key) => key in item)) return undefined;
  if (index.projects === 'ALL') return item;
  const names = new Set([...table.keys, ...index.keys, ...index.projects]);
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.has(name)));
}

/** Write units of one item write: the table, by the larger image, plus each index entry written or removed. */
export function writeUnits(before: Item | undefined, after: Item | undefined, table: TableShape): number {
  const size = Math.max(before ? itemSize(before) : 0, after ? itemSize(after) : 0);
  let units = chunks(size, WRITE_UNIT_BYTES);
  for (const index of table.indexes) {
    const old = before && indexEntry(before, table, index);
    const next = after && indexEntry(after, table, index);
    if (!old && !next) continue;
    if (old && next && sameEntry(old, next)) continue;
    const keyChanged = old && next && index.keys.some((key) => JSON.stringify(old[key]) !== JSON.stringify(next[key]));
    // A changed index key removes the old entry and puts a new one: two index writes.
    if (keyChanged) units += chunks(itemSize(old), WRITE_UNIT_BYTES) + chunks(itemSize(next), WRITE_UNIT_BYTES);
    else units += chunks(Math.max(old ? itemSize(old) : 0, next ? itemSize(next) : 0), WRITE_UNIT_BYTES);
  }
  return units;
}

const sameEntry = (a: Item, b: Item): boolean => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** Read units of a read returning these items: per item for GetItem/BatchGetItem, their sum for a Query or Scan. */
export function readUnits(sizes: number[], consistent: boolean, perItem: boolean): number {
  const factor = consistent ? 1 : 0.5;
  if (perItem) return sizes.reduce((sum, size) => sum + chunks(size, READ_UNIT_BYTES) * factor, 0);
  return chunks(sizes.reduce((a, b) => a + b, 0), READ_UNIT_BYTES) * factor;
}

/** Bytes an item keeps in storage: itself and its index entries, each with DynamoDB's overhead. */
export function storedBytes(item: Item, table: TableShape): number {
  let bytes = itemSize(item) + STORAGE_OVERHEAD_BYTES;
  for (const index of table.indexes) {
    const entry = indexEntry(item, table, index);
    if (entry) bytes += itemSize(entry) + STORAGE_OVERHEAD_BYTES;
  }
  return bytes;
}

/** What the meter has counted since it started (or was reset). */
export interface BillingCounts {
  eventBridgeEvents: number;
  sqsRequests: number;
  /**
   * Long polls that returned nothing (also in `sqsRequests`): the local pollers wait 1 s where
   * Lambda's wait 20 s, so a cost model may put AWS's polling in their place. A short poll's
   * empty answer (a held invocation taking more of its queue) is not one of them: AWS bills it
   * as it is.
   */
  sqsEmptyReceives: number;
  dynamoWriteUnits: number;
  dynamoReadUnits: number;
  /** Byte-seconds of items written with a TTL, until their TTL: storage at the configured retention. */
  dynamoStoredByteSeconds: number;
  s3Requests: { write: number; read: number };
  apiRequests: number;
  /**
   * Per function: invocations, the sum of their wall times rounded up to 1 ms each (what
   * Lambda would bill if this process ran nothing else), and of their waits: wall time in which
   * this process used no CPU at all (waiting on the emulators, the receiver, the network).
   * Invocations here share one event loop, so a wall time also holds the others' CPU; a cost
   * model can bill the waits plus each function's own CPU instead.
   */
  lambda: Record<string, { invocations: number; billedMs: number; waitMs: number }>;
  /** Log bytes written by the functions (CloudWatch Logs ingestion). */
  logBytes: number;
  /** Requests by `service.action`, as they reached the endpoint. */
  requests: Record<string, number>;
}

/** Calls DynamoDB (dynalite) directly, not metered: `action` with a JSON body; the parsed answer. */
export type DynamoDbCall = (action: string, body: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Props of {@link BillingMeter}. */
export interface BillingMeterOptions {
  /**
   * Queue URLs that are EventBridge rule targets (AWS sends them one SendMessage per event); a
   * function, as the stack's queues exist only once it has started.
   */
  eventBridgeTargetQueues?: () => readonly string[];
  /** The TTL attribute of the tables (epoch seconds). */
  ttlAttribute?: string;
  /** Epoch ms now, for TTL lifetimes. @default Date.now */
  now?: () => number;
}

/** Counts billed units of the requests it is shown; see the module comment for the rules. */
export class BillingMeter {
  counts: BillingCounts = emptyCounts();
  /** Counting only while true: metering costs the endpoint extra reads. */
  active = true;
  private readonly tables = new Map<string, Promise<TableShape>>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: BillingMeterOptions = {}) {}

  /** Starts the counts afresh (between the benchmark's shapes). */
  reset(): BillingCounts {
    const counts = this.counts;
    this.counts = emptyCounts();
    return counts;
  }

  private request(service: string, action: string): void {
    const key = `${service}.${action}`;
    this.counts.requests[key] = (this.counts.requests[key] ?? 0) + 1;
  }

  /** An EventBridge request (the local bus answers it). */
  events(action: string, body: Buffer): void {
    this.request('events', action);
    if (action !== 'PutEvents') return;
    const { Entries = [] } = parse(body) as { Entries?: EventEntryWire[] };
    for (const entry of Entries) this.counts.eventBridgeEvents += eventBridgeEntryUnits(entry);
  }

  /** An SQS request and its answer. */
  sqs(action: string, body: Buffer | string, response: Buffer | string): void {
    this.request('sqs', action);
    const request = parse(body) as SqsWire;
    const target = (this.options.eventBridgeTargetQueues?.() ?? []).includes(String(request.QueueUrl ?? ''));
    if (target && action === 'SendMessageBatch') {
      for (const entry of request.Entries ?? []) this.counts.sqsRequests += sqsRequestUnits('SendMessage', entry, {});
      return;
    }
    const answer = parse(response) as SqsWire;
    if (action === 'ReceiveMessage' && !answer.Messages?.length && Number(request.WaitTimeSeconds ?? 0) > 0) this.counts.sqsEmptyReceives += 1;
    this.counts.sqsRequests += sqsRequestUnits(action, request, answer);
  }

  /** An S3 request: PUT, COPY, POST and LIST bill as writes, GET and the rest as reads. */
  s3(method: string): void {
    this.request('s3', method);
    if (['PUT', 'POST', 'COPY'].includes(method)) this.counts.s3Requests.write += 1;
    else if (method !== 'DELETE') this.counts.s3Requests.read += 1; // DELETE is free
  }

  /** An HTTP API request of this many bytes. */
  apiRequest(bytes: number): void {
    if (!this.active) return;
    this.request('apigateway', 'request');
    this.counts.apiRequests += apiRequestUnits(bytes);
  }

  /** One function invocation's wall time, and the CPU time this whole process used meanwhile. */
  invocation(functionName: string, wallMs: number, processCpuMs = 0): void {
    if (!this.active) return;
    const fn = (this.counts.lambda[functionName] ??= { invocations: 0, billedMs: 0, waitMs: 0 });
    fn.invocations += 1;
    fn.billedMs += Math.max(1, Math.ceil(wallMs));
    fn.waitMs += Math.max(0, wallMs - processCpuMs);
  }

  /** Times a handler's invocations. */
  timed<A extends unknown[], R>(functionName: string, handler: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      if (!this.active) return handler(...args);
      const started = performance.now();
      const cpu = process.cpuUsage();
      try {
        return await handler(...args);
      } finally {
        const used = process.cpuUsage(cpu);
        this.invocation(functionName, performance.now() - started, (used.user + used.system) / 1000);
      }
    };
  }

  /** Bytes the functions logged. */
  log(bytes: number): void {
    if (!this.active) return;
    this.counts.logBytes += bytes;
  }

  /**
   * A DynamoDB request: `forward` sends it on and resolves with the answer's bytes; `call`
   * reads from the table unmetered, for what the request and answer do not show (an item's old
   * and new image around an update, the whole items behind a projected query, index shapes).
   */
  async dynamoDb(action: string, body: Buffer, call: DynamoDbCall, forward: () => Promise<{ status: number; body: Buffer }>): Promise<void> {
    const counting = this.countDynamoDb(action, body, call, forward);
    this.pending.add(counting);
    try {
      await counting;
    } finally {
      this.pending.delete(counting);
    }
  }

  /**
   * Resolves once the requests answered so far are counted: an update's new image and a
   * projected query's whole items are read after the caller has its answer.
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async countDynamoDb(action: string, body: Buffer, call: DynamoDbCall, forward: () => Promise<{ status: number; body: Buffer }>): Promise<void> {
    this.request('dynamodb', action);
    const request = parse(body) as DynamoWire;
    const table = String(request.TableName ?? '');
    const itemKey = (key: Item | undefined) => ({ TableName: table, Key: key, ConsistentRead: true });
    const beforeImage = async (): Promise<Item | undefined> =>
      (await call('GetItem', itemKey(request.Key ?? (request.Item && (await this.keyOf(call, table, request.Item)))))).Item as Item | undefined;
    const before = ['UpdateItem', 'DeleteItem', 'PutItem'].includes(action) ? await beforeImage() : undefined;
    const answer = await forward();
    if (answer.status !== 200) return; // refused: nothing consumed that we bill here
    const response = parse(answer.body) as DynamoWire;
    switch (action) {
      case 'PutItem':
        this.write(before, request.Item, await this.shape(call, table));
        break;
      case 'UpdateItem': {
        const after = (await call('GetItem', itemKey(request.Key))).Item as Item | undefined;
        this.write(before, after, await this.shape(call, table));
        break;
      }
      case 'DeleteItem':
        this.write(before, undefined, await this.shape(call, table));
        break;
      case 'BatchWriteItem':
        for (const [name, writes] of Object.entries(request.RequestItems ?? {}) as [string, BatchWrite[]][]) {
          const shape = await this.shape(call, name);
          const unprocessed = new Set(((response.UnprocessedItems?.[name] ?? []) as BatchWrite[]).map((write) => JSON.stringify(write)));
          for (const write of writes) {
            if (unprocessed.has(JSON.stringify(write))) continue;
            // Attempt logs are new items: no old image is looked up for batch puts.
            if (write.PutRequest) this.write(undefined, write.PutRequest.Item, shape);
            else this.counts.dynamoWriteUnits += 1;
          }
        }
        break;
      case 'GetItem':
        this.counts.dynamoReadUnits += readUnits([response.Item ? itemSize(response.Item as Item) : 0], request.ConsistentRead === true, true);
        break;
      case 'BatchGetItem':
        for (const [name, items] of Object.entries(response.Responses ?? {})) {
          const consistent = request.RequestItems?.[name]?.ConsistentRead === true;
          this.counts.dynamoReadUnits += readUnits((items as Item[]).map((item) => itemSize(item)), consistent, true);
        }
        break;
      case 'Query':
      case 'Scan': {
        const items = request.ProjectionExpression || request.FilterExpression || request.Select === 'COUNT' ? await this.wholeItems(call, action, request) : ((response.Items ?? []) as Item[]);
        this.counts.dynamoReadUnits += readUnits(items.map((item) => itemSize(item)), request.ConsistentRead === true, false);
        break;
      }
      default:
        break; // control plane and TTL: not billed per request
    }
  }

  private write(before: Item | undefined, after: Item | undefined, table: TableShape): void {
    this.counts.dynamoWriteUnits += writeUnits(before, after, table);
    const ttl = this.options.ttlAttribute && after?.[this.options.ttlAttribute]?.N;
    if (after && ttl) {
      const seconds = Number(ttl) - (this.options.now ?? Date.now)() / 1000;
      if (seconds > 0) this.counts.dynamoStoredByteSeconds += storedBytes(after, table) * seconds;
    }
  }

  /** The items a projected or filtered query read: the same query, whole items, unfiltered. */
  private async wholeItems(call: DynamoDbCall, action: string, request: DynamoWire): Promise<Item[]> {
    const { ProjectionExpression: _projection, FilterExpression: _filter, Select: _select, ...rest } = request;
    const used = `${String(rest.KeyConditionExpression ?? '')}`;
    const names = Object.fromEntries(Object.entries(rest.ExpressionAttributeNames ?? {}).filter(([name]) => used.includes(name)));
    const values = Object.fromEntries(Object.entries(rest.ExpressionAttributeValues ?? {}).filter(([name]) => used.includes(name)));
    const whole = { ...rest, ExpressionAttributeNames: Object.keys(names).length ? names : undefined, ExpressionAttributeValues: Object.keys(values).length ? values : undefined };
    return ((await call(action, whole)).Items ?? []) as Item[];
  }

  private async keyOf(call: DynamoDbCall, table: string, item: Item): Promise<Item> {
    const shape = await this.shape(call, table);
    return Object.fromEntries(shape.keys.map((key) => [key, item[key]!]));
  }

  private shape(call: DynamoDbCall, table: string): Promise<TableShape> {
    let shape = this.tables.get(table);
    if (!shape) {
      shape = describeShape(call, table);
      this.tables.set(table, shape);
      shape.catch(() => this.tables.delete(table));
    }
    return shape;
  }
}

async function describeShape(call: DynamoDbCall, table: string): Promise<TableShape> {
  type KeySchema = { AttributeName: string }[];
  const { Table } = (await call('DescribeTable', { TableName: table })) as {
    Table?: { KeySchema: KeySchema; GlobalSecondaryIndexes?: { KeySchema: KeySchema; Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] } }[] };
  };
  if (!Table) throw new Error(`no table ${table}`);
  return {
    keys: Table.KeySchema.map((key) => key.AttributeName),
    indexes: (Table.GlobalSecondaryIndexes ?? []).map((index) => ({
      keys: index.KeySchema.map((key) => key.AttributeName),
      projects: index.Projection?.ProjectionType === 'ALL' ? 'ALL' : (index.Projection?.NonKeyAttributes ?? []),
    })),
  };
}

function emptyCounts(): BillingCounts {
  return {
    eventBridgeEvents: 0,
    sqsRequests: 0,
    sqsEmptyReceives: 0,
    dynamoWriteUnits: 0,
    dynamoReadUnits: 0,
    dynamoStoredByteSeconds: 0,
    s3Requests: { write: 0, read: 0 },
    apiRequests: 0,
    lambda: {},
    logBytes: 0,
    requests: {},
  };
}

function parse(body: Buffer | string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body.toString()) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The parts of SQS's JSON protocol the meter reads. */
interface SqsMessageWire {
  MessageBody?: string;
  Body?: string;
  MessageAttributes?: Record<string, { DataType?: string; StringValue?: string }>;
}
interface SqsWire extends SqsMessageWire {
  QueueUrl?: string;
  WaitTimeSeconds?: number;
  Entries?: SqsMessageWire[];
  Messages?: SqsMessageWire[];
}
/** A PutEvents entry. */
interface EventEntryWire {
  Time?: unknown;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
}
interface BatchWrite {
  PutRequest?: { Item: Item };
  DeleteRequest?: { Key: Item };
}
interface DynamoWire {
  TableName?: string;
  Key?: Item;
  Item?: Item;
  Items?: Item[];
  ConsistentRead?: boolean;
  ProjectionExpression?: string;
  FilterExpression?: string;
  KeyConditionExpression?: string;
  Select?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
  RequestItems?: Record<string, unknown> & Record<string, { ConsistentRead?: boolean }>;
  Responses?: Record<string, unknown[]>;
  UnprocessedItems?: Record<string, unknown[]>;
}
