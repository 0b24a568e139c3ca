/**
 * `npm run bench`: starts the local stack and a receiver in another process, then measures the
 * limit (raw POSTs), end-to-end throughput, latency at a fixed rate, AWS requests and CPU time
 * per delivery, the handlers' own CPU, whether the fan-out's cost depends on unrelated
 * subscriptions, and bundle size / load time; from those, the cost per million deliveries at
 * list prices. Prints a table with PASS or the gap per target and writes the same figures to
 * bench-results/bench.json. Then the isolation phase (bench/isolation.ts): a healthy project
 * beside faulty ones, and lone events during a burst.
 */
import { ChildProcess, execFileSync, fork, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  QueueAttributeName,
  SQSClient,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { planDeliveries } from '../lambdas/core/fan-out';
import { signToken } from '../lambdas/core/token';
import { LocalStack, startLocalStack } from '../local/local-stack';
import { FunctionUsage, LAMBDA_ASSUMPTIONS, PRICES_US_EAST_1_2025, UsagePerDelivery, costPerMillionDeliveries } from './cost-model';
import { meterCapacity } from './dynamodb-capacity';
import type { HandlerCpu, HandlerCpuRequest } from './handler-cpu-worker';
import { measureIsolation, printIsolation } from './isolation';
import { insertUnrelatedSubscriptions } from './unrelated-subscriptions';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
/** Size of each event's detail: padded up to this many bytes when set (Tiledesk's message events are often a few KB). */
const PAYLOAD_BYTES = Number(process.env.BENCH_PAYLOAD_BYTES ?? 0);
const SUBSCRIPTIONS_PER_EVENT = 3;
const LATENCY_RATE = 100;
const LATENCY_SECONDS = 10;
const CONCURRENCY = 40;
const DELIVERY_CONCURRENCY = Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 8);
const FAN_OUT_CONCURRENCY = 2;
/** Direct handler invocations measured for their CPU (after a warm-up). */
const HANDLER_CPU_EVENTS = 1500;
const HANDLER_CPU_DELIVERIES = 4000;
/** Fan-out independence: rounds of events to the benchmark's 3 subscribers, before and after the others. */
const FAN_OUT_EVENTS = 500;
const FAN_OUT_ROUNDS = 3;
const UNRELATED_SUBSCRIPTIONS = 10_000;
/**
 * How far the fan-out time per event may move once the unrelated subscriptions are in: 25 %,
 * or 0.1 ms per event when that is larger (timer and scheduling noise on a shared machine).
 */
const FAN_OUT_TIME_TOLERANCE = { relative: 0.25, absoluteMs: 0.1 };
const FAN_OUT_REQUEST_TOLERANCE = 0.05;
const PROJECT = 'bench';
const TOPIC = 'message.create';

interface Receipt {
  id: string;
  at: number;
  sentAt: number;
}

/** What the phases share. */
interface Bench {
  stack: LocalStack;
  events: EventBridgeClient;
  sqs: SQSClient;
  requests: Map<string, number>;
  receipts: Receipt[];
  subscriptionIds: string[];
}

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const requests = new Map<string, number>();
  const jwtSecret = 'bench-secret';
  const stack = await startLocalStack({
    port: 0,
    awsPort: 0,
    jwtSecret,
    deliveryConcurrency: DELIVERY_CONCURRENCY,
    fanOutConcurrency: FAN_OUT_CONCURRENCY,
    onAwsRequest: (service, action) => requests.set(`${service}.${action}`, (requests.get(`${service}.${action}`) ?? 0) + 1),
  });
  const { child, port, receipts } = await startReceiver();
  const figures: Record<string, number> = {};
  let usage: Omit<UsageInputs, 'memoryMB'>;
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
      receipts,
      subscriptionIds,
    };

    usage = await measureThroughput(bench, figures);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await measureLatency(bench, figures);

    const handlers = await measureHandlerCpu(bench);
    figures.cpuMsPerEvent_fanOutHandler = handlers.fanOut.cpuMs / handlers.fanOut.records;
    figures.cpuMsPerDelivery_deliveryHandler = handlers.delivery.cpuMs / handlers.delivery.records;

    Object.assign(figures, await measureFanOutIndependence(bench));
  } finally {
    child.kill();
    await stack.stop();
  }
  const bundles = measureBundles();
  Object.assign(figures, bundles.figures);
  const cost = estimateCost(figures, { ...usage, memoryMB: bundles.memoryMB });
  figures.costUsdPerMillionDeliveries = cost.usd.total ?? NaN;
  report(figures, cost);
  // Isolation last, each case on a fresh stack of its own (BENCH_ISOLATION=0 skips it).
  if (process.env.BENCH_ISOLATION !== '0') {
    const isolation = await measureIsolation();
    printIsolation(isolation);
    writeFileSync('bench-results/isolation.json', JSON.stringify({ at: new Date().toISOString(), cases: isolation }, null, 2));
  }
}

/**
 * Throughput: EVENTS published in batches of 10 as fast as PutEvents allows. Besides the rate,
 * it records what the cost model needs — requests by action, DynamoDB capacity units (metered
 * on the handlers' shared client) — and CPU: this whole process (`process.cpuUsage`, less the
 * metering itself) and the fauxqs and dynalite children (`/proc/<pid>/stat`), each divided by deliveries.
 */
async function measureThroughput(bench: Bench, figures: Record<string, number>): Promise<Omit<UsageInputs, 'memoryMB'>> {
  const { requests, receipts } = bench;
  // deliveries/s comes from a first pass without the capacity meter, which parses every
  // DynamoDB request and response on the handlers' thread; the second pass measures the rest.
  receipts.length = 0;
  const timedStart = Date.now();
  for (let sent = 0; sent < EVENTS; sent += 10) await publishBatch(bench.events, 10);
  await waitFor(() => receipts.length >= EVENTS * SUBSCRIPTIONS_PER_EVENT, 300_000);
  const timedSeconds = (Math.max(...receipts.map((r) => r.at)) - timedStart) / 1000;
  await settle(requests);
  const { dynamoDocumentClient } = await import('../lambdas/adapters/aws-clients');
  const fauxqsPid = findChildPid('fauxqs-server.mjs');
  const dynalitePid = findChildPid('dynalite-server.mjs');
  const meter = meterCapacity(dynamoDocumentClient);
  requests.clear();
  receipts.length = 0;
  const cpuBefore = process.cpuUsage();
  const fauxqsBefore = processCpuMs(fauxqsPid);
  const dynaliteBefore = processCpuMs(dynalitePid);
  for (let sent = 0; sent < EVENTS; sent += 10) {
    await publishBatch(bench.events, 10);
  }
  const expected = EVENTS * SUBSCRIPTIONS_PER_EVENT;
  await waitFor(() => receipts.length >= expected, 300_000);
  await settle(requests);
  const cpu = process.cpuUsage(cpuBefore);
  const fauxqsCpuMs = processCpuMs(fauxqsPid) - fauxqsBefore;
  const dynaliteCpuMs = processCpuMs(dynalitePid) - dynaliteBefore;
  meter.detach();
  if (meter.totals.writeUnits === 0) throw new Error('the capacity meter saw no writes: it is not on the handlers\' client');

  figures.deliveriesPerSecond = expected / timedSeconds;
  figures.ratioToLimit = figures.deliveriesPerSecond / figures.limitPostsPerSecond!;
  const deliverySide = ['sqs.ReceiveMessage', 'sqs.DeleteMessageBatch', 'sqs.ChangeMessageVisibilityBatch', 'dynamodb.BatchGetItem', 'dynamodb.BatchWriteItem', 'dynamodb.UpdateItem'];
  figures.deliverySideRequestsPerDelivery = sumOf(requests, deliverySide) / expected;
  figures.allAwsRequestsPerDelivery = [...requests.values()].reduce((a, b) => a + b, 0) / expected;
  figures.cpuMsPerDelivery_benchProcess = ((cpu.user + cpu.system) / 1000 - meter.totals.accountingMs) / expected;
  figures.cpuMsPerDelivery_sqsEmulator = fauxqsCpuMs / expected;
  figures.cpuMsPerDelivery_dynamoEmulator = dynaliteCpuMs / expected;

  // Each invocation that succeeds ends in one DeleteMessageBatch; a delivery invocation reads
  // its subscriptions with exactly one BatchGetItem.
  const sqsRequests = [...requests].filter(([key]) => key.startsWith('sqs.')).reduce((sum, [, n]) => sum + n, 0);
  const deliveryInvocations = requests.get('dynamodb.BatchGetItem') ?? 0;
  const fanOutInvocations = (requests.get('sqs.DeleteMessageBatch') ?? 0) - deliveryInvocations;
  // The local bus forwards each PutEvents to the fan-out queue in one SendMessageBatch;
  // EventBridge sends an SQS target one SendMessage per event.
  const sqsRequestsOnAws = sqsRequests - (requests.get('events.PutEvents') ?? 0) + EVENTS;
  const chunks = await requestChunks();
  figures.sqsRequestsPerDeliveryOnAws = (sqsRequestsOnAws * chunks.sqs) / expected;
  figures.dynamoWriteUnitsPerDelivery = meter.totals.writeUnits / expected;
  figures.dynamoReadUnitsPerDelivery = meter.totals.readUnits / expected;
  figures.lambdaInvocationsPerDelivery = (deliveryInvocations + fanOutInvocations) / expected;
  return {
    eventBridgeEventsPerDelivery: (EVENTS * chunks.eventBridge) / expected,
    deliveryInvocationsPerDelivery: deliveryInvocations / expected,
    fanOutInvocationsPerDelivery: fanOutInvocations / expected,
    eventsPerDelivery: EVENTS / expected,
  };
}

/** Latency at a fixed offered rate. */
async function measureLatency(bench: Bench, figures: Record<string, number>): Promise<void> {
  const { receipts } = bench;
  receipts.length = 0;
  const latencyEvents = LATENCY_RATE * LATENCY_SECONDS;
  const tick = 100;
  const perTick = (LATENCY_RATE * tick) / 1000;
  for (let sent = 0; sent < latencyEvents; sent += perTick) {
    const next = Date.now() + tick;
    await publishBatch(bench.events, perTick);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  await waitFor(() => receipts.length >= latencyEvents * SUBSCRIPTIONS_PER_EVENT, 120_000);
  const latencies = receipts.map((r) => r.at - r.sentAt).sort((a, b) => a - b);
  figures.latencyP50Ms = percentile(latencies, 0.5);
  figures.latencyP95Ms = percentile(latencies, 0.95);
  figures.latencyP99Ms = percentile(latencies, 0.99);
}

/**
 * The handlers' own CPU: `handler-cpu-worker.ts` invokes them directly in a worker thread and
 * reads that thread's CPU time, while the stack's pipeline is idle. Its fan-out writes to a
 * queue nobody reads, so no deliveries run on the main thread meanwhile; its deliveries POST
 * to the receiver and log their attempts like the pipeline's.
 */
async function measureHandlerCpu(bench: Bench): Promise<{ fanOut: HandlerCpu; delivery: HandlerCpu }> {
  const { QueueUrl: sink } = await bench.sqs.send(new CreateQueueCommand({ QueueName: 'bench-fan-out-sink' }));
  const request: HandlerCpuRequest = {
    projectId: PROJECT,
    subscriptionIds: bench.subscriptionIds,
    events: HANDLER_CPU_EVENTS,
    deliveries: HANDLER_CPU_DELIVERIES,
    fanOutConcurrency: FAN_OUT_CONCURRENCY,
    deliveryConcurrency: DELIVERY_CONCURRENCY,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
  // The worker runs TypeScript through tsx's CommonJS hook, registered in that thread.
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(path.join(__dirname, 'handler-cpu-worker.ts'))});`, {
    eval: true,
    workerData: request,
    env: { ...process.env, DELIVERY_QUEUE_URL: sink },
  });
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the handler CPU worker exited with code ${code}`)));
    });
  } finally {
    await worker.terminate();
    await bench.sqs.send(new PurgeQueueCommand({ QueueUrl: sink }));
  }
}

/**
 * Fan-out cost independence: rounds of FAN_OUT_EVENTS events for the benchmark's project and
 * topic (3 subscribers), first with only those subscriptions in the table, then with
 * UNRELATED_SUBSCRIPTIONS more of other topics and projects. Deliveries are held back — the
 * delivery queue delays every message 15 minutes — so the fan-out runs alone: its DynamoDB
 * requests are all the table sees, and it ends when the queue holds every delivery message
 * (ApproximateNumberOfMessagesDelayed, polled every 10 ms). Time per event is the median round's
 * time from the first PutEvents to that moment, divided by the events.
 */
async function measureFanOutIndependence(bench: Bench): Promise<Record<string, number>> {
  const queueUrl = bench.stack.queues.delivery.url;
  await bench.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { DelaySeconds: '900' } }));
  const alone = await fanOutRounds(bench, queueUrl);
  await insertUnrelatedSubscriptions(bench.stack.awsEndpoint, bench.stack.tableName, PROJECT, TOPIC, UNRELATED_SUBSCRIPTIONS, {
    projectId: PROJECT,
    subscriptionId: bench.subscriptionIds[0]!,
  });
  const crowded = await fanOutRounds(bench, queueUrl);
  return {
    fanOutDynamoRequestsPerEvent_alone: alone.dynamoRequestsPerEvent,
    fanOutDynamoRequestsPerEvent_10kOthers: crowded.dynamoRequestsPerEvent,
    fanOutMsPerEvent_alone: alone.msPerEvent,
    fanOutMsPerEvent_10kOthers: crowded.msPerEvent,
  };
}

async function fanOutRounds(bench: Bench, queueUrl: string): Promise<{ dynamoRequestsPerEvent: number; msPerEvent: number }> {
  const times: number[] = [];
  let dynamoRequests = 0;
  const count = async (url: string, names: QueueAttributeName[]): Promise<number> => {
    const { Attributes = {} } = await bench.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }));
    return names.reduce((sum, name) => sum + Number(Attributes[name] ?? 0), 0);
  };
  const delayed = (): Promise<number> => count(queueUrl, ['ApproximateNumberOfMessagesDelayed']);
  const expected = FAN_OUT_EVENTS * SUBSCRIPTIONS_PER_EVENT;
  for (let round = 0; round < FAN_OUT_ROUNDS; round++) {
    await bench.sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    bench.requests.clear();
    const started = performance.now();
    const publishing = publishMany(bench.events, FAN_OUT_EVENTS, 5);
    await waitFor(async () => (await delayed()) >= expected, 60_000, 10);
    times.push((performance.now() - started) / FAN_OUT_EVENTS);
    await publishing;
    // Once every event is fanned out, exactly the 3 subscribers' messages must be there: none for the others.
    const fanOutQueue = bench.stack.queues.fanOut.url;
    await waitFor(async () => (await count(fanOutQueue, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'])) === 0, 60_000);
    const planned = await delayed();
    if (planned !== expected) throw new Error(`the fan-out planned ${planned} deliveries for ${FAN_OUT_EVENTS} events, not ${expected}`);
    dynamoRequests += [...bench.requests].filter(([key]) => key.startsWith('dynamodb.')).reduce((sum, [, n]) => sum + n, 0);
  }
  return { dynamoRequestsPerEvent: dynamoRequests / (FAN_OUT_ROUNDS * FAN_OUT_EVENTS), msPerEvent: percentile(times.sort((a, b) => a - b), 0.5) };
}

/** Measured usage the cost model combines with the deployed functions' memory. */
interface UsageInputs {
  eventBridgeEventsPerDelivery: number;
  deliveryInvocationsPerDelivery: number;
  fanOutInvocationsPerDelivery: number;
  eventsPerDelivery: number;
  memoryMB: Record<string, number>;
}

/** The usage per delivery behind the cost, by function. */
type Usage = UsagePerDelivery & { functions: { fanOut: FunctionUsage; delivery: FunctionUsage } };

function estimateCost(figures: Record<string, number>, inputs: UsageInputs): ReturnType<typeof costPerMillionDeliveries> & { usage: Usage } {
  const memoryOf = (name: string): number => {
    const memory = Object.entries(inputs.memoryMB).find(([logicalId]) => logicalId.includes(name))?.[1];
    if (memory === undefined) throw new Error(`no ${name} function in the synthesized template`);
    return memory;
  };
  const usage: Usage = {
    eventBridgeEvents: inputs.eventBridgeEventsPerDelivery,
    sqsRequests: figures.sqsRequestsPerDeliveryOnAws!,
    dynamoWriteUnits: figures.dynamoWriteUnitsPerDelivery!,
    dynamoReadUnits: figures.dynamoReadUnitsPerDelivery!,
    functions: {
      fanOut: {
        memoryMB: memoryOf('FanOut'),
        cpuMsPerDelivery: figures.cpuMsPerEvent_fanOutHandler! * inputs.eventsPerDelivery,
        invocationsPerDelivery: inputs.fanOutInvocationsPerDelivery,
        waitMsPerInvocation: LAMBDA_ASSUMPTIONS.waitMsPerInvocation.fanOut,
      },
      delivery: {
        memoryMB: memoryOf('Deliver'),
        cpuMsPerDelivery: figures.cpuMsPerDelivery_deliveryHandler!,
        invocationsPerDelivery: inputs.deliveryInvocationsPerDelivery,
        waitMsPerInvocation: LAMBDA_ASSUMPTIONS.waitMsPerInvocation.delivery,
      },
    },
  };
  return { ...costPerMillionDeliveries(usage), usage };
}

/**
 * Each 64 KB of a request is billed as one. The largest SQS request here is a batch of ten
 * delivery messages (the event's payload plus ids, as the fan-out plans them); an EventBridge
 * entry is the event itself.
 */
async function requestChunks(): Promise<{ sqs: number; eventBridge: number }> {
  const detail = eventDetail(0, Date.now());
  const [message] = await planDeliveries(
    { id: '0'.repeat(36), 'detail-type': TOPIC, source: 'tiledesk', time: new Date().toISOString(), detail: JSON.parse(detail) as { id_project: string } },
    async () => ['0'.repeat(24)],
  );
  const chunks = (bytes: number): number => Math.max(1, Math.ceil(bytes / 65_536));
  return { sqs: chunks(10 * Buffer.byteLength(JSON.stringify(message)) + 1024), eventBridge: chunks(Buffer.byteLength(detail) + 256) };
}

/** Waits until the last deliveries' attempt logs and deletes, which follow their POSTs, are done. */
async function settle(requests: Map<string, number>): Promise<void> {
  let last = -1;
  for (let round = 0; round < 40; round++) {
    const now = sumOf(requests, ['dynamodb.BatchWriteItem', 'sqs.DeleteMessageBatch']);
    if (now === last) return;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The child process of this one running `script` (Linux /proc), to read its CPU time. */
function findChildPid(script: string): number | undefined {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(script)) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** utime + stime of a whole process, all its threads; NaN where /proc cannot tell. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

let ticksPerSecond: number | undefined;
/** The unit of /proc CPU times. */
function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return ticksPerSecond;
}

function sumOf(counts: Map<string, number>, keys: string[]): number {
  return keys.reduce((total, key) => total + (counts.get(key) ?? 0), 0);
}

function eventDetail(n: number, sentAt: number): string {
  const detail = { id_project: PROJECT, text: `message ${n}`, sentAt };
  const missing = PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(detail)) - ',"padding":""'.length;
  return JSON.stringify(missing > 0 ? { ...detail, padding: 'x'.repeat(missing) } : detail);
}

async function publishBatch(events: EventBridgeClient, count: number): Promise<void> {
  const sentAt = Date.now();
  await events.send(
    new PutEventsCommand({
      Entries: Array.from({ length: count }, (_, n) => ({
        EventBusName: 'tiledesk',
        Source: 'tiledesk',
        DetailType: TOPIC,
        Detail: eventDetail(n, sentAt),
      })),
    }),
  );
}

/** Publishes `count` events, ten per PutEvents, `inFlight` PutEvents at a time. */
async function publishMany(events: EventBridgeClient, count: number, inFlight: number): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent < count) {
        sent += 10;
        await publishBatch(events, 10);
      }
    }),
  );
}

/** Creates a subscription through the API; returns its id. */
async function createSubscription(apiUrl: string, token: string, target: string): Promise<string> {
  const response = await fetch(`${apiUrl}/${PROJECT}/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: TOPIC, target }),
  });
  if (response.status !== 200) throw new Error(`subscription failed: ${response.status}`);
  return ((await response.json()) as { _id: string })._id;
}

/** The ceiling: the same-sized POSTs straight to the receiver, keep-alive, same concurrency. */
async function measureLimit(port: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = JSON.stringify({ hook: { _id: 'x'.repeat(24) }, timestamp: Date.now(), payload: { id_project: 'bench', text: 'message 1' } });
  const total = 5000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < total) {
        await new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/raw', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end(body);
        });
      }
    }),
  );
  agent.destroy();
  return total / ((performance.now() - started) / 1000);
}

function startReceiver(): Promise<{ child: ChildProcess; port: number; receipts: Receipt[] }> {
  const receipts: Receipt[] = [];
  const child = fork(path.join(__dirname, 'receiver-process.mjs'));
  return new Promise((resolve) => {
    child.on('message', (message: { port?: number } | Receipt[]) => {
      if (Array.isArray(message)) receipts.push(...message);
      else if (message.port) resolve({ child, port: message.port, receipts });
    });
  });
}

async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for deliveries');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/**
 * Bundle size of each function `cdk synth` produces, and its load time in a fresh process
 * (median of 5); also each function's deployed memory, which the cost model needs.
 */
function measureBundles(): { figures: Record<string, number>; memoryMB: Record<string, number> } {
  rmSync('cdk.out', { recursive: true, force: true });
  execFileSync('npx', ['cdk', 'synth', '--quiet'], { stdio: 'ignore' });
  const template = JSON.parse(readFileSync('cdk.out/TiledeskWebhooks.template.json', 'utf8')) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties: { MemorySize?: number; Architectures?: string[] } }>;
  };
  const figures: Record<string, number> = {};
  const memoryMB: Record<string, number> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (resource.Type !== 'AWS::Lambda::Function' || !assetPath) continue;
    const file = path.resolve('cdk.out', assetPath, 'index.js');
    // Median of 5 fresh processes; the second figure loads the AWS SDK clients first (the
    // runtime provides them, the bundles leave them out) and times the bundle alone.
    const loadTime = (preload: string): number =>
      Array.from({ length: 5 }, () => {
        const run = spawnSync(process.execPath, ['-e', `${preload}const t=performance.now();require(${JSON.stringify(file)});console.log(performance.now()-t)`], {
          env: { ...process.env, AWS_LAMBDA_FUNCTION_NAME: 'bench', TABLE_NAME: 't', DELIVERY_QUEUE_URL: 'q', FAN_OUT_QUEUE_URL: 'q', JWT_SECRET: 's', POWERTOOLS_TRACE_ENABLED: 'false' },
          encoding: 'utf8',
        });
        return Number(run.stdout.trim().split('\n').pop());
      }).sort((a, b) => a - b)[2] ?? NaN;
    const sdkClients = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager'];
    const name = logicalId.replace(/Function[0-9A-F]{8}$/, '');
    figures[`bundleKB_${name}`] = statSync(file).size / 1024;
    figures[`loadMs_${name}`] = loadTime('');
    figures[`loadMsWithoutSdk_${name}`] = loadTime(sdkClients.map((client) => `require(${JSON.stringify(client)});`).join(''));
    // The prices used are arm64's; a function on x86 would cost more.
    if (!resource.Properties.Architectures?.includes('arm64')) throw new Error(`${name} is not arm64`);
    memoryMB[name] = resource.Properties.MemorySize ?? 128;
  }
  return { figures, memoryMB };
}

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

function report(figures: Record<string, number>, cost: ReturnType<typeof estimateCost>): void {
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

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
