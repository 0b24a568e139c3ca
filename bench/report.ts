/** The benchmark's table, targets and `bench-results/bench.json`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { EVENTS, FAN_OUT_EVENTS, FAN_OUT_REQUEST_TOLERANCE, FAN_OUT_ROUNDS, FAN_OUT_TIME_TOLERANCE, PAYLOAD_BYTES, SUBSCRIPTIONS_PER_EVENT, UNRELATED_SUBSCRIPTIONS } from './bench-context';
import { LAMBDA_ASSUMPTIONS, PRICES_US_EAST_1_2025 } from './cost-model';
import { estimateCost } from './cost-phase';

/** How the figures added for CPU, fan-out independence and cost were measured. */
const LABELS: Record<string, string> = {
  cpuMsPerDelivery_benchProcess: 'throughput phase: process.cpuUsage of this process (handlers, event sources, EventBridge, AWS endpoint, publisher, receipts) / deliveries',
  cpuMsPerDelivery_sqsEmulator: 'throughput phase: fauxqs child utime+stime (/proc) / deliveries',
  cpuMsPerDelivery_dynamoEmulator: 'throughput phase: dynalite child utime+stime (/proc) / deliveries',
  ...Object.fromEntries(
    ['DeliveryDeliver', 'ApiAuthorizer', 'ApiSubscriptions', 'ApiOperatorSelect', 'EventsFanOut'].map((name) => [
      `loadMsWithoutSdk_${name}`,
      'the bundle alone: AWS SDK clients (provided by the runtime) already loaded',
    ]),
  ),
  cpuMsPerEvent_fanOutHandler: 'fan-out handler alone: invoked directly in a worker thread, that thread\'s CPU / events',
  cpuMsPerDelivery_deliveryHandler: 'delivery handler alone: invoked directly in a worker thread, that thread\'s CPU / deliveries',
  sqsRequestsPerDeliveryOnAws: 'throughput phase, as billed on AWS (EventBridge sends its SQS target one request per event)',
  dynamoWriteUnitsPerDelivery: 'throughput phase: WRU from item sizes on the wire, table + index entries',
  dynamoReadUnitsPerDelivery: 'throughput phase: RRU from item sizes on the wire',
  lambdaInvocationsPerDelivery: 'throughput phase: fan-out + delivery invocations',
  fanOutDynamoRequestsPerEvent_alone: `only the ${SUBSCRIPTIONS_PER_EVENT} subscriptions; deliveries held back`,
  fanOutDynamoRequestsPerEvent_10kOthers: `plus ${UNRELATED_SUBSCRIPTIONS} subscriptions of other projects and topics`,
  fanOutMsPerEvent_alone: `first PutEvents until the delivery queue holds every message, / ${FAN_OUT_EVENTS} events, median of ${FAN_OUT_ROUNDS}`,
  fanOutMsPerEvent_10kOthers: `the same with the ${UNRELATED_SUBSCRIPTIONS} others in the table`,
  costUsdPerMillionDeliveries: 'breakdown below',
};

/** Fan-out independence: the same requests per event, and time per event within tolerance. */
function fanOutIndependence(f: Record<string, number>): { pass: boolean; detail: string } {
  const requestGap = f.fanOutDynamoRequestsPerEvent_10kOthers! - f.fanOutDynamoRequestsPerEvent_alone!;
  const timeGap = f.fanOutMsPerEvent_10kOthers! - f.fanOutMsPerEvent_alone!;
  const allowedMs = Math.max(FAN_OUT_TIME_TOLERANCE.relative * f.fanOutMsPerEvent_alone!, FAN_OUT_TIME_TOLERANCE.absoluteMs);
  const pass = Math.abs(requestGap) <= FAN_OUT_REQUEST_TOLERANCE && Math.abs(timeGap) <= allowedMs;
  const detail =
    `${f.fanOutDynamoRequestsPerEvent_alone?.toFixed(2)} vs ${f.fanOutDynamoRequestsPerEvent_10kOthers?.toFixed(2)} DynamoDB requests/event (±${FAN_OUT_REQUEST_TOLERANCE}), ` +
    `${f.fanOutMsPerEvent_alone?.toFixed(3)} vs ${f.fanOutMsPerEvent_10kOthers?.toFixed(3)} ms/event (${timeGap >= 0 ? '+' : ''}${timeGap.toFixed(3)} ms, ±${allowedMs.toFixed(3)} allowed)`;
  return { pass, detail };
}

const formatValue = (value: number): string => value.toFixed(Math.abs(value) < 10 ? 3 : 2);

export function report(figures: Record<string, number>, cost: ReturnType<typeof estimateCost>): void {
  const independence = fanOutIndependence(figures);
  const targets: [string, (f: Record<string, number>) => boolean, string][] = [
    ['end-to-end ≥ 1,000 deliveries/s', (f) => f.deliveriesPerSecond! >= 1000, `${figures.deliveriesPerSecond?.toFixed(0)} deliveries/s`],
    ['p99 ≤ 250 ms at 100 events/s', (f) => f.latencyP99Ms! <= 250, `p99 ${figures.latencyP99Ms} ms`],
    ['delivery side ≤ 0.6 AWS requests per delivery', (f) => f.deliverySideRequestsPerDelivery! <= 0.6, `${figures.deliverySideRequestsPerDelivery?.toFixed(2)} requests`],
    [
      `fan-out cost independent of ${UNRELATED_SUBSCRIPTIONS.toLocaleString('en')} unrelated subscriptions (requests ±${FAN_OUT_REQUEST_TOLERANCE}, time ±${FAN_OUT_TIME_TOLERANCE.relative * 100}% or ±${FAN_OUT_TIME_TOLERANCE.absoluteMs} ms)`,
      () => independence.pass,
      independence.detail,
    ],
    ['each bundle ≤ 300 KB', (f) => Object.entries(f).filter(([k]) => k.startsWith('bundleKB_')).every(([, v]) => v <= 300), 'see bundleKB_*'],
    ['each bundle loads in ≤ 100 ms', (f) => Object.entries(f).filter(([k]) => k.startsWith('loadMs_')).every(([, v]) => v <= 100), 'see loadMs_*'],
  ];
  console.log('\nfigure                                   value');
  for (const [name, value] of Object.entries(figures)) {
    console.log(`${name.padEnd(40)} ${formatValue(value).padStart(9)}${LABELS[name] ? `  ${LABELS[name]}` : ''}`);
  }

  const { usage, usd, lambdaGbSecondsPerDelivery } = cost;
  const { fanOut, delivery } = usage.functions;
  const perMillion = (price: number): string => `$${(price * 1e6).toPrecision(3)}/M`;
  const basis: Record<string, string> = {
    eventBridge: `${usage.eventBridgeEvents.toFixed(3)} events/delivery x ${perMillion(PRICES_US_EAST_1_2025.eventBridgeEvent)}`,
    sqs: `${usage.sqsRequests.toFixed(3)} requests/delivery x ${perMillion(PRICES_US_EAST_1_2025.sqsRequest)}`,
    dynamoDbWrites: `${usage.dynamoWriteUnits.toFixed(3)} WRU/delivery x ${perMillion(PRICES_US_EAST_1_2025.dynamoWriteUnit)}`,
    dynamoDbReads: `${usage.dynamoReadUnits.toFixed(3)} RRU/delivery x ${perMillion(PRICES_US_EAST_1_2025.dynamoReadUnit)}`,
    lambdaRequests: `${(fanOut.invocationsPerDelivery + delivery.invocationsPerDelivery).toFixed(3)} invocations/delivery x ${perMillion(PRICES_US_EAST_1_2025.lambdaRequest)}`,
    lambdaDuration:
      `${(lambdaGbSecondsPerDelivery * 1000).toFixed(3)} GB-ms/delivery x $${PRICES_US_EAST_1_2025.lambdaArmGbSecond}/GB-s ` +
      `(arm64; CPU / vCPU share at ${fanOut.memoryMB} and ${delivery.memoryMB} MB, + ${fanOut.waitMsPerInvocation} and ${delivery.waitMsPerInvocation} ms assumed wait per fan-out and delivery invocation)`,
    total: '',
  };
  const payload = PAYLOAD_BYTES > 0 ? `${PAYLOAD_BYTES}-byte payloads` : 'small payloads (~80 bytes; BENCH_PAYLOAD_BYTES=N pads them)';
  console.log(`\ncost per million deliveries, USD (us-east-1 list prices, 2025; ${payload})`);
  for (const [name, value] of Object.entries(usd)) console.log(`${name.padEnd(16)} ${value.toFixed(3).padStart(8)}  ${basis[name] ?? ''}`);

  console.log('\ntargets');
  for (const [name, check, detail] of targets) console.log(`${check(figures) ? 'PASS' : 'MISS'}  ${name}  (${detail})`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(
    'bench-results/bench.json',
    JSON.stringify(
      {
        at: new Date().toISOString(),
        events: EVENTS,
        payloadBytes: PAYLOAD_BYTES || undefined,
        figures,
        cost: {
          usdPerMillionDeliveries: usd,
          usagePerDelivery: { ...usage, lambdaGbSeconds: lambdaGbSecondsPerDelivery },
          pricesUsdPerUnit: PRICES_US_EAST_1_2025,
          lambdaAssumptions: LAMBDA_ASSUMPTIONS,
        },
      },
      null,
      2,
    ),
  );
  console.log('\nwritten to bench-results/bench.json');
}

