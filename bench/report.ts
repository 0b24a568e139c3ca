/** The benchmark's table, targets and `bench-results/bench.json`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { EVENTS, FAN_OUT_EVENTS, FAN_OUT_REQUEST_TOLERANCE, FAN_OUT_ROUNDS, FAN_OUT_TIME_TOLERANCE, PAYLOAD_BYTES, SUBSCRIPTIONS_PER_EVENT, UNRELATED_SUBSCRIPTIONS } from './bench-context';
import { AWS_PRICE_LIST } from './aws-price-list';
import { CHAT_PAYLOAD_BYTES, SHAPE_SETTINGS, ShapeCost } from './cost-shapes-phase';

/** How the figures added for CPU, fan-out independence and cost were measured. */
const LABELS: Record<string, string> = {
  limitPostsPerSecond: 'raw keep-alive POSTs to the receiver, its first 5,000 (the ratio\'s denominator)',
  deliveriesPerSecond: 'throughput phase, first pass: the stack\'s first events (the ratio\'s numerator)',
  deliveriesPerSecond_warm: 'throughput phase, second pass: the same events on the warmed stack',
  limitPostsPerSecond_warm: 'raw POSTs again after the throughput phase, best of 3 (a warm receiver)',
  ratioToLimit_warm: 'warm against warm: deliveriesPerSecond_warm / limitPostsPerSecond_warm (reported, not the target)',
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
  lambdaInvocationsPerDelivery: 'throughput phase: fan-out + delivery invocations',
  fanOutDynamoRequestsPerEvent_alone: `only the ${SUBSCRIPTIONS_PER_EVENT} subscriptions; deliveries held back`,
  fanOutDynamoRequestsPerEvent_10kOthers: `plus ${UNRELATED_SUBSCRIPTIONS} subscriptions of other projects and topics`,
  fanOutMsPerEvent_alone: `first PutEvents until the fan-out queue is empty, / ${FAN_OUT_EVENTS} events, median of ${FAN_OUT_ROUNDS}`,
  fanOutMsPerEvent_10kOthers: `the same with the ${UNRELATED_SUBSCRIPTIONS} others in the table`,
  costUsdPerMillion_chat3kb: 'cost shape (a), breakdown below',
  costUsdPerMillion_lowTraffic: 'cost shape (b), breakdown below',
  costUsdPerMillion_chat3kbFailing10pct: 'cost shape (c), breakdown below',
  chatPayloadGzipRatio: 'the chat shapes\' payloads: JSON bytes / gzip bytes',
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

/** Prints the figures, the cost shapes and the targets, and writes bench-results/bench.json. */
export function report(figures: Record<string, number>, shapes: ShapeCost[]): void {
  const independence = fanOutIndependence(figures);
  const targets: [string, (f: Record<string, number>) => boolean, string][] = [
    ['end-to-end ≥ 1,000 deliveries/s', (f) => f.deliveriesPerSecond! >= 1000, `${figures.deliveriesPerSecond?.toFixed(0)} deliveries/s`],
    ['p99 ≤ 250 ms at 100 events/s', (f) => f.latencyP99Ms! <= 250, `p99 ${figures.latencyP99Ms} ms`],
    ['ratio to the raw POST limit ≥ 0.20', (f) => f.ratioToLimit! >= 0.2, `${figures.ratioToLimit?.toFixed(3)}`],
    ['≤ $1.50 per million deliveries at 3 KB of realistic chat, every attempt logged', (f) => f.costUsdPerMillion_chat3kb! <= 1.5, `$${figures.costUsdPerMillion_chat3kb?.toFixed(2)}`],
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

  const describe: Record<string, string> = {
    chat3kb: `(a) steady 100 events/s, ${SUBSCRIPTIONS_PER_EVENT} subscribers, ~${CHAT_PAYLOAD_BYTES}-byte chat payloads (gzip ratio ${figures.chatPayloadGzipRatio?.toFixed(2)})`,
    lowTraffic: '(b) 1 event/s: batches of one',
    chat3kbFailing10pct: '(c) as (a), 10 % of deliveries failing once (retried after the schedule\'s first wait)',
  };
  for (const shape of shapes) {
    console.log(`
cost per million deliveries, USD: ${describe[shape.shape.name] ?? shape.shape.name}; ${shape.events} events, ${shape.deliveries} deliveries`);
    for (const item of shape.items) console.log(`${item.name.padEnd(16)} ${item.usdPerMillion.toFixed(3).padStart(8)}  ${item.basis}`);
    console.log(`${'total'.padEnd(16)} ${shape.usdPerMillion.toFixed(3).padStart(8)}`);
  }
  console.log(`(us-east-1 list prices as of ${AWS_PRICE_LIST.asOf}, arm64; ${SHAPE_SETTINGS})`);

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
        costShapes: shapes.map(({ shape, events, deliveries, counts, items, usdPerMillion }) => ({ shape, events, deliveries, usdPerMillion, items, counts })),
        prices: AWS_PRICE_LIST,
      },
      null,
      2,
    ),
  );
  console.log('\nwritten to bench-results/bench.json');
}

