/**
 * DynamoDB capacity units the benchmark's requests would consume on AWS, computed from the
 * requests and responses on the wire with DynamoDB's published item-size rules (dynalite does
 * not report consumed capacity). Used by `bench/run.ts` for the cost per delivery.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../lambdas/core/settings';

/** A DynamoDB attribute value as the JSON protocol carries it (binary arrives decoded). */
interface WireValue {
  S?: string;
  N?: string;
  B?: string | Uint8Array;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, WireValue>;
  L?: WireValue[];
  SS?: string[];
  NS?: string[];
  BS?: (string | Uint8Array)[];
}
type WireItem = Record<string, WireValue>;

const WRITE_UNIT_BYTES = 1024;
const READ_UNIT_BYTES = 4096;
/** DynamoDB counts this much extra in each index entry (documented for storage; counted for writes too, to err high). */
const INDEX_ENTRY_OVERHEAD_BYTES = 100;

const { partitionKey: PK, sortKey: SK, topicIndex, historyIndex } = TABLE_KEYS;
/** The table's indexes as `lib/webhooks-table.ts` declares them, from the same settings. */
const INDEXES = [topicIndex, historyIndex].map((index) => ({
  keys: [index.partitionKey, index.sortKey],
  projectsAll: (index.projection as string) === 'ALL',
}));

const utf8 = (text: string): number => Buffer.byteLength(text);
const binary = (value: string | Uint8Array): number =>
  typeof value === 'string' ? Buffer.from(value, 'base64').length : value.byteLength;
/** A number takes one byte per two significant digits, plus one. */
const numberSize = (text: string): number => Math.ceil(text.replace(/[-+.]|e.*$/gi, '').replace(/^0+|0+$/g, '').length / 2) + 1;

function valueSize(value: WireValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return binary(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.M) return 3 + Object.entries(value.M).reduce((sum, [name, inner]) => sum + utf8(name) + valueSize(inner) + 1, 0);
  if (value.L) return 3 + value.L.reduce((sum, inner) => sum + valueSize(inner) + 1, 0);
  if (value.SS) return value.SS.reduce((sum, text) => sum + utf8(text), 0);
  if (value.NS) return value.NS.reduce((sum, text) => sum + numberSize(text), 0);
  if (value.BS) return value.BS.reduce((sum, bytes) => sum + binary(bytes), 0);
  return 0;
}

/** An item's size as DynamoDB bills it: attribute names plus values. */
export function itemSize(item: WireItem): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueSize(value), 0);
}

/** Write units of one put: the table, plus each index the item appears in. */
function putWriteUnits(item: WireItem): number {
  let units = Math.ceil(itemSize(item) / WRITE_UNIT_BYTES);
  for (const index of INDEXES) {
    if (!index.keys.every((key) => key in item)) continue;
    const projected = index.projectsAll
      ? itemSize(item)
      : itemSize(Object.fromEntries([PK, SK, ...index.keys].map((key) => [key, item[key]!])));
    units += Math.ceil((projected + INDEX_ENTRY_OVERHEAD_BYTES) / WRITE_UNIT_BYTES);
  }
  return units;
}

/** Read units of items read together: strongly consistent reads cost twice eventually consistent ones. */
function readUnits(items: WireItem[], consistent: boolean, perItem: boolean): number {
  const factor = consistent ? 1 : 0.5;
  if (perItem) return items.reduce((sum, item) => sum + Math.max(1, Math.ceil(itemSize(item) / READ_UNIT_BYTES)) * factor, 0);
  const bytes = items.reduce((sum, item) => sum + itemSize(item), 0);
  return Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES)) * factor;
}

/** Totals of what a client sent while the meter was attached. */
export interface CapacityTotals {
  writeUnits: number;
  readUnits: number;
  /** Time spent computing the above (synchronous, so it is CPU time of this process). */
  accountingMs: number;
}

interface WireRequest {
  RequestItems?: Record<string, { PutRequest?: { Item: WireItem }; DeleteRequest?: unknown }[] | { ConsistentRead?: boolean }>;
  ConsistentRead?: boolean;
  Item?: WireItem;
}
interface WireResponse {
  Responses?: Record<string, WireItem[]>;
  Items?: WireItem[];
  Item?: WireItem;
}

/**
 * Adds a middleware to a client that tallies the capacity units of every request it sends.
 * Item writes whose size the request does not show (UpdateItem, DeleteItem) count one unit:
 * the service's subscription items are well under 1 KB. Returns the totals and a detach function.
 */
export function meterCapacity(client: DynamoDBDocumentClient): { totals: CapacityTotals; detach: () => void } {
  const totals: CapacityTotals = { writeUnits: 0, readUnits: 0, accountingMs: 0 };
  const name = 'benchCapacityMeter';
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const started = performance.now();
      const { body, headers } = args.request as { body?: unknown; headers?: Record<string, string> };
      // The SDK serializes to bytes (read them as such: its byte type warns on string use).
      const text =
        body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') : String(body ?? '{}');
      const request = JSON.parse(text) as WireRequest;
      const response = result.output as WireResponse;
      // The operation as the wire names it (lib-dynamodb's commands have names of their own).
      switch (headers?.['x-amz-target']?.split('.')[1]) {
        case 'BatchWriteItem':
          for (const writes of Object.values(request.RequestItems ?? {}) as { PutRequest?: { Item: WireItem } }[][]) {
            for (const write of writes) totals.writeUnits += write.PutRequest ? putWriteUnits(write.PutRequest.Item) : 1;
          }
          break;
        case 'PutItem':
          totals.writeUnits += request.Item ? putWriteUnits(request.Item) : 1;
          break;
        case 'UpdateItem':
        case 'DeleteItem':
          totals.writeUnits += 1;
          break;
        case 'BatchGetItem':
          for (const [table, items] of Object.entries(response.Responses ?? {})) {
            const consistent = (request.RequestItems?.[table] as { ConsistentRead?: boolean } | undefined)?.ConsistentRead === true;
            totals.readUnits += readUnits(items, consistent, true);
          }
          break;
        case 'GetItem':
          totals.readUnits += readUnits(response.Item ? [response.Item] : [], request.ConsistentRead === true, false);
          break;
        case 'Query':
          totals.readUnits += readUnits(response.Items ?? [], request.ConsistentRead === true, false);
          break;
      }
      totals.accountingMs += performance.now() - started;
      return result;
    },
    { step: 'build', name },
  );
  return { totals, detach: () => void client.middlewareStack.remove(name) };
}
