/**
 * `npm run bench`: starts the local stack and a receiver in another process, then measures the
 * limit (raw POSTs), end-to-end throughput, latency at a fixed rate, AWS requests and CPU time
 * per delivery, the handlers' own CPU, whether the fan-out's cost depends on unrelated
 * subscriptions, and bundle size / load time; from those, the cost per million deliveries at
 * list prices. Prints a table with PASS or the gap per target and writes the same figures to
 * bench-results/bench.json. Then the isolation phase (bench/isolation.ts): a healthy project
 * beside faulty ones, and lone events during a burst.
 */
import { writeFileSync } from 'node:fs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { signToken } from '../lambdas/core/token';
import { TABLE_KEYS } from '../lambdas/core/settings';
import { BillingMeter } from '../local/billing-meter';
import { startLocalStack } from '../local/local-stack';
import { Bench, DELIVERY_CONCURRENCY, FAN_OUT_CONCURRENCY, PROJECT, SUBSCRIPTIONS_PER_EVENT, createSubscription, runScript, startReceiver } from './bench-context';
import { measureBundles } from './bundle-phase';
import { COST_SHAPES, CHAT_PAYLOAD_BYTES, LOCAL_FUNCTIONS, ShapeCost, measureCostShapes } from './cost-shapes-phase';
import { ChatPayloads } from './chat-payloads';
import { measureFanOutIndependence } from './fan-out-independence-phase';
import { measureHandlerCpu } from './handler-cpu-phase';
import { measureIsolation, printIsolation } from './isolation';
import { measureLatency } from './latency-phase';
import { measureLimit } from './limit-phase';
import { report } from './report';
import { measureThroughput } from './throughput-phase';

/** The fast and slow lanes' logical ids (their access key ids at the local endpoint). */
const DELIVERY_FUNCTION = /^DeliveryDeliver(Slow)?Function/;

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const requests = new Map<string, number>();
  const deliveryRequests = new Map<string, number>();
  const count = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const jwtSecret = 'bench-secret';
  // Bundles first: the deployed memory of each function prices the cost shapes.
  const bundles = measureBundles();
  const memoryMB = Object.fromEntries(
    Object.entries(LOCAL_FUNCTIONS).map(([local, logicalId]) => [local, Object.entries(bundles.memoryMB).find(([name]) => logicalId.test(name))?.[1] ?? NaN]),
  );
  // The meter counts only while the cost shapes run: metering parses every request and reads
  // items back from dynalite, which the throughput and latency phases must not measure (a meter
  // counts from its start, so until 2026-12-04 they did).
  const ruleTargets: string[] = [];
  const meter = new BillingMeter({ eventBridgeTargetQueues: () => ruleTargets, ttlAttribute: TABLE_KEYS.ttlAttribute });
  meter.active = false;
  const stack = await startLocalStack({
    port: 0,
    awsPort: 0,
    jwtSecret,
    deliveryConcurrency: DELIVERY_CONCURRENCY,
    fanOutConcurrency: FAN_OUT_CONCURRENCY,
    meter,
    onAwsRequest: (service, action, { caller, empty }) => {
      count(requests, `${service}.${action}`);
      if (!empty && caller && DELIVERY_FUNCTION.test(caller)) count(deliveryRequests, `${service}.${action}`);
    },
  });
  ruleTargets.push(stack.queues.fanOut.url);
  const { child, port, receipts } = await startReceiver();
  const figures: Record<string, number> = {};
  let shapes: ShapeCost[] = [];
  try {
    figures.limitPostsPerSecond = await measureLimit(port);

    const token = signToken({ sub: 'bench', projects: { [PROJECT]: 'owner' } }, jwtSecret);
    const subscriptionIds: string[] = [];
    for (let n = 0; n < SUBSCRIPTIONS_PER_EVENT; n++) {
      subscriptionIds.push(await createSubscription(stack.apiUrl, token, `http://127.0.0.1:${port}/hook/${n}`));
    }
    const bench: Bench = {
      stack,
      events: new EventBridgeClient({ endpoint: stack.awsEndpoint }),
      sqs: new SQSClient({ endpoint: stack.awsEndpoint }),
      requests,
      deliveryRequests,
      receipts,
      subscriptionIds,
      receiver: child,
    };

    await measureThroughput(bench, figures);
    // The limit again once the receiver is warm (it rises run after run, then levels off): the
    // ratio's target compares first runs; warm against warm is reported beside it.
    figures.limitPostsPerSecond_warm = Math.max(...[await measureLimit(port), await measureLimit(port), await measureLimit(port)]);
    figures.ratioToLimit_warm = figures.deliveriesPerSecond_warm! / figures.limitPostsPerSecond_warm;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await measureLatency(bench, figures);

    const handlers = await measureHandlerCpu(bench);
    figures.cpuMsPerEvent_fanOutHandler = handlers.fanOut.cpuMs / handlers.fanOut.records;
    figures.cpuMsPerDelivery_deliveryHandler = handlers.delivery.cpuMs / handlers.delivery.records;

    if (COST_SHAPES.length > 0) {
      meter.active = true;
      shapes = await measureCostShapes(bench, meter, memoryMB, {
        fanOutMsPerEvent: figures.cpuMsPerEvent_fanOutHandler,
        deliveryMsPerDelivery: figures.cpuMsPerDelivery_deliveryHandler,
      });
      meter.active = false;
      for (const shape of shapes) figures[`costUsdPerMillion_${shape.shape.name}`] = shape.usdPerMillion;
      figures.chatPayloadGzipRatio = ChatPayloads.measure(PROJECT, CHAT_PAYLOAD_BYTES).gzipRatio;
    }

    Object.assign(figures, await measureFanOutIndependence(bench));
  } finally {
    child.kill();
    await stack.stop();
  }
  Object.assign(figures, bundles.figures);
  report(figures, shapes);
  // Isolation last, each case on a fresh stack of its own (BENCH_ISOLATION=0 skips it).
  if (process.env.BENCH_ISOLATION !== '0') {
    const isolation = await measureIsolation();
    printIsolation(isolation);
    writeFileSync('bench-results/isolation.json', JSON.stringify({ at: new Date().toISOString(), cases: isolation }, null, 2));
  }
}

runScript(main);
