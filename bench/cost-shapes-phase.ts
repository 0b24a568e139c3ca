/**
 * The cost shapes: traffic of three shapes through the local stack while the billing meter
 * (`local/billing-meter.ts`) counts every billed unit, priced with `aws-price-list.ts`:
 * (a) steady 100 events/s to 3 subscribers with realistic 3 KB chat payloads, (b) 1 event/s
 * (batches of one), (c) (a) with 10 % of deliveries failing once. Each shape's cost is per
 * million successful deliveries, retries and everything else included.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DELIVERY, FAN_OUT } from '../lambdas/core/settings';
import type { BillingCounts, BillingMeter } from '../local/billing-meter';
import { AWS_PRICE_LIST, LAMBDA_MB_PER_VCPU } from './aws-price-list';
import { Bench, PROJECT, SUBSCRIPTIONS_PER_EVENT, TOPIC, waitFor } from './bench-context';
import { ChatPayloads } from './chat-payloads';

/** One shape: its rate, length and share of first attempts that fail. */
export interface CostShape {
  name: string;
  eventsPerSecond: number;
  seconds: number;
  failRate: number;
}

export const COST_SHAPES: CostShape[] = [
  { name: 'chat3kb', eventsPerSecond: 100, seconds: Number(process.env.BENCH_SHAPE_SECONDS ?? 10), failRate: 0 },
  { name: 'lowTraffic', eventsPerSecond: 1, seconds: Number(process.env.BENCH_LOW_TRAFFIC_SECONDS ?? 20), failRate: 0 },
  { name: 'chat3kbFailing10pct', eventsPerSecond: 100, seconds: Number(process.env.BENCH_SHAPE_SECONDS ?? 10), failRate: 0.1 },
];

/** The payload size of the chat shapes. */
export const CHAT_PAYLOAD_BYTES = 3000;

/**
 * What the local stack cannot show and AWS bills: the platform's START/END/REPORT log lines of
 * each invocation (about this many bytes together), and the event source mappings' idle polling
 * (Lambda keeps 5 pollers per SQS mapping, each long-polling 20 s; the local pollers wait 1 s,
 * so their empty long polls are replaced by these; a held invocation's empty short polls are
 * billed as they are).
 */
const PLATFORM_LOG_BYTES_PER_INVOCATION = 330;
const AWS_POLLERS_PER_MAPPING = 5;
const AWS_POLL_WAIT_SECONDS = 20;
/** The deployed mappings: fan-out, fast lane, slow lane. */
const MAPPINGS = 3;

/** CPU per record measured for each handler alone, which a fraction of a vCPU stretches. */
export interface HandlerCpuPerRecord {
  fanOutMsPerEvent: number;
  deliveryMsPerDelivery: number;
}

/** A shape's counts and what they cost. */
export interface ShapeCost {
  shape: CostShape;
  events: number;
  deliveries: number;
  /** Attempts that failed and were retried (shape c). */
  retries: number;
  counts: BillingCounts;
  /** USD per million deliveries, by item, with the units behind each. */
  items: { name: string; usdPerMillion: number; basis: string }[];
  usdPerMillion: number;
}

/**
 * Runs each shape on the running stack (after the other phases) and prices its counts.
 * `memoryMB` is each local function's deployed memory, from the synthesized template.
 */
export async function measureCostShapes(
  bench: Bench,
  meter: BillingMeter,
  memoryMB: Record<string, number>,
  cpu: HandlerCpuPerRecord,
): Promise<ShapeCost[]> {
  const results: ShapeCost[] = [];
  const payloads = new ChatPayloads(PROJECT, CHAT_PAYLOAD_BYTES);
  const { logger } = await import('../lambdas/adapters/observability');
  for (const shape of COST_SHAPES) {
    await quiet(meter);
    bench.receiver.send({ failRate: shape.failRate });
    bench.receipts.length = 0;
    meter.reset();
    // The functions log at the deployed level (INFO) while the shape runs; what they write is counted, not shown.
    logger.setLogLevel('INFO');
    const restore = captureStdout((bytes) => meter.log(bytes));
    const started = Date.now();
    let events = 0;
    try {
      const perTick = Math.max(1, shape.eventsPerSecond / 10);
      const tickMs = (1000 * perTick) / shape.eventsPerSecond;
      const total = shape.eventsPerSecond * shape.seconds;
      while (events < total) {
        const next = Date.now() + tickMs;
        const count = Math.min(perTick, total - events);
        const sentAt = Date.now();
        await bench.events.send(
          new PutEventsCommand({
            Entries: Array.from({ length: count }, () => ({ EventBusName: 'tiledesk', Source: 'tiledesk', DetailType: TOPIC, Detail: JSON.stringify(payloads.payload(sentAt)) })),
          }),
        );
        events += count;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
      }
      await waitFor(() => bench.receipts.length >= events * SUBSCRIPTIONS_PER_EVENT, 120_000);
      await quiet(meter);
    } finally {
      restore();
      logger.setLogLevel('ERROR');
    }
    const seconds = (Date.now() - started) / 1000;
    const counts = meter.reset();
    const deliveries = events * SUBSCRIPTIONS_PER_EVENT;
    // Failing shape: the receiver fails that share of first attempts, each retried once.
    const attempts = Math.round(deliveries * (1 + shape.failRate));
    results.push(price(shape, counts, { events, deliveries, attempts, seconds, memoryMB, cpu }));
  }
  bench.receiver.send({ failRate: 0 });
  return results;
}

/** Waits until the stack has made no billed request for half a second and the meter has counted the last. */
async function quiet(meter: BillingMeter): Promise<void> {
  const total = (): number => Object.entries(meter.counts.requests).filter(([key]) => key !== 'sqs.ReceiveMessage').reduce((sum, [, n]) => sum + n, 0);
  let last = -1;
  for (let round = 0; round < 60 && total() !== last; round++) {
    last = total();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await meter.settled();
}

/** Counts what is written to stdout (and swallows it) until the returned function is called. */
function captureStdout(count: (bytes: number) => void): () => void {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    count(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength);
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  return () => {
    process.stdout.write = write;
  };
}

interface ShapeRun {
  events: number;
  deliveries: number;
  attempts: number;
  seconds: number;
  memoryMB: Record<string, number>;
  cpu: HandlerCpuPerRecord;
}

const GB = 1024 ** 3;
const SECONDS_PER_MONTH = 30 * 86_400;

/** Prices one shape's counts per million deliveries. */
export function price(shape: CostShape, counts: BillingCounts, run: ShapeRun): ShapeCost {
  const p = AWS_PRICE_LIST;
  const perDelivery = (units: number): number => units / run.deliveries;
  const items: ShapeCost['items'] = [];
  const add = (name: string, units: number, unitPrice: number, basis: string): void => {
    items.push({ name, usdPerMillion: perDelivery(units) * unitPrice * 1e6, basis });
  };
  add('eventBridge', counts.eventBridgeEvents, p.eventBridgeEvent, `${perDelivery(counts.eventBridgeEvents).toFixed(3)} events/delivery (64 KB chunks)`);

  const awsIdlePolls = (MAPPINGS * AWS_POLLERS_PER_MAPPING * run.seconds) / AWS_POLL_WAIT_SECONDS;
  const sqs = counts.sqsRequests - counts.sqsEmptyReceives + awsIdlePolls;
  add('sqs', sqs, p.sqsRequest, `${perDelivery(sqs).toFixed(3)} requests/delivery (64 KB chunks; ${counts.sqsEmptyReceives} local empty long polls replaced by ${awsIdlePolls.toFixed(0)} of Lambda's 20 s polls)`);
  add('dynamoDbWrites', counts.dynamoWriteUnits, p.dynamoWriteUnit, `${perDelivery(counts.dynamoWriteUnits).toFixed(3)} WRU/delivery`);
  add('dynamoDbReads', counts.dynamoReadUnits, p.dynamoReadUnit, `${perDelivery(counts.dynamoReadUnits).toFixed(3)} RRU/delivery`);
  const gbMonths = counts.dynamoStoredByteSeconds / GB / SECONDS_PER_MONTH;
  add('dynamoDbStorage', gbMonths, p.dynamoStorageGbMonth, `${(counts.dynamoStoredByteSeconds / run.deliveries / 86_400).toFixed(0)} byte-days/delivery (items + index entries until their TTL)`);
  add('dynamoDbPitr', gbMonths, p.dynamoPitrGbMonth, 'point-in-time recovery on the same table size');

  let invocations = 0;
  let gbSeconds = 0;
  const parts: string[] = [];
  for (const [fn, usage] of Object.entries(counts.lambda)) {
    const memory = run.memoryMB[fn];
    if (memory === undefined) throw new Error(`no deployed memory for the local function ${fn}`);
    // Billed: each invocation's waits (wall time with this process idle: the emulators, the
    // receiver) plus the function's own CPU (measured alone, per record) at its share of a vCPU,
    // and half a millisecond per invocation for the rounding up. The wall times themselves hold
    // the other invocations' CPU, as they share one event loop here (printed for comparison).
    // The fast lane takes the attempts (the receiver answers at once); the slow lane's own CPU is not measured alone.
    const records = fn === 'fan-out' ? run.events : fn === 'delivery' ? run.attempts : 0;
    const cpuMs = (fn === 'fan-out' ? run.cpu.fanOutMsPerEvent : run.cpu.deliveryMsPerDelivery) * records;
    const ownCpuMs = cpuMs * Math.max(1, LAMBDA_MB_PER_VCPU / memory);
    const billedMs = usage.waitMs + ownCpuMs + usage.invocations * 0.5;
    invocations += usage.invocations;
    gbSeconds += (billedMs / 1000) * (memory / 1024);
    const per = (ms: number): string => (ms / usage.invocations).toFixed(1);
    parts.push(`${fn} ${usage.invocations} × (${per(usage.waitMs)} ms waiting + ${per(ownCpuMs)} ms own CPU at ${memory} MB; wall ${per(usage.billedMs)} ms)`);
  }
  add('lambdaRequests', invocations, p.lambdaRequest, `${perDelivery(invocations).toFixed(3)} invocations/delivery`);
  add('lambdaDuration', gbSeconds, p.lambdaArmGbSecond, `${((perDelivery(gbSeconds) * 1000)).toFixed(3)} GB-ms/delivery: ${parts.join('; ')}`);
  add('apiGateway', counts.apiRequests, p.apiRequest, `${counts.apiRequests} requests`);
  add('s3', 1, counts.s3Requests.write * p.s3WriteRequest + counts.s3Requests.read * p.s3ReadRequest, `${counts.s3Requests.write} writes, ${counts.s3Requests.read} reads`);
  const logBytes = counts.logBytes + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION;
  add('cloudWatchLogs', logBytes / GB, p.logsIngestGb + p.logsStorageGbMonth, `${perDelivery(logBytes).toFixed(0)} bytes/delivery (functions' output at INFO + ${PLATFORM_LOG_BYTES_PER_INVOCATION} B platform lines per invocation), ingested and kept a month`);
  const usdPerMillion = items.reduce((sum, item) => sum + item.usdPerMillion, 0);
  return { shape, events: run.events, deliveries: run.deliveries, retries: run.attempts - run.deliveries, counts, items, usdPerMillion };
}

/** Local function names (the local stack's) → the template's function logical ids they stand for. */
export const LOCAL_FUNCTIONS: Record<string, RegExp> = {
  'fan-out': /^EventsFanOut/,
  delivery: /^DeliveryDeliver(?!Slow)/,
  'delivery-slow': /^DeliveryDeliverSlow/,
  'subscriptions-api': /^ApiSubscriptions/,
  'ingest-api': /^IngestIngestApi/,
  'operator-select': /^ApiOperatorSelect/,
  'public-content': /^ApiPublicContent/,
};

/** Settings the shapes depend on, printed with them. */
export const SHAPE_SETTINGS = `fan-out batch ${FAN_OUT.batchSize}, delivery batch ${DELIVERY.batchSize}, attempt logs kept ${DELIVERY.attemptLogTtlDays} days`;
