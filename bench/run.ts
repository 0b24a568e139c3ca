/**
 * `npm run bench`: starts the local stack and a receiver in another process, then measures the
 * limit (raw POSTs), end-to-end throughput, latency at a fixed rate, AWS requests per
 * delivery, and bundle size / load time. Prints a table with PASS or the gap per target and
 * writes the same figures to bench-results/bench.json.
 */
import { ChildProcess, execFileSync, fork, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import * as path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { signToken } from '../lambdas/core/token';
import { startLocalStack } from '../lib/local/local-stack';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const SUBSCRIPTIONS_PER_EVENT = 3;
const LATENCY_RATE = 100;
const LATENCY_SECONDS = 10;
const CONCURRENCY = 40;

interface Receipt {
  id: string;
  at: number;
  sentAt: number;
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
    deliveryConcurrency: Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 8),
    fanOutConcurrency: 2,
    onAwsRequest: (service, action) => requests.set(`${service}.${action}`, (requests.get(`${service}.${action}`) ?? 0) + 1),
  });
  const { child, port, receipts } = await startReceiver();
  const figures: Record<string, number> = {};
  try {
    figures.limitPostsPerSecond = await measureLimit(port);

    const token = signToken({ sub: 'bench', projects: { bench: 'owner' } }, jwtSecret);
    for (let n = 0; n < SUBSCRIPTIONS_PER_EVENT; n++) {
      await createSubscription(stack.apiUrl, token, `http://127.0.0.1:${port}/hook/${n}`);
    }
    const events = new EventBridgeClient({ endpoint: stack.awsEndpoint });

    // Throughput: publish EVENTS in batches of 10 as fast as PutEvents allows.
    requests.clear();
    receipts.length = 0;
    const started = Date.now();
    for (let sent = 0; sent < EVENTS; sent += 10) {
      await publishBatch(events, 10);
    }
    const expected = EVENTS * SUBSCRIPTIONS_PER_EVENT;
    await waitFor(() => receipts.length >= expected, 300_000);
    const seconds = (Math.max(...receipts.map((r) => r.at)) - started) / 1000;
    figures.deliveriesPerSecond = expected / seconds;
    figures.ratioToLimit = figures.deliveriesPerSecond / figures.limitPostsPerSecond;
    const deliverySide = ['sqs.ReceiveMessage', 'sqs.DeleteMessageBatch', 'sqs.ChangeMessageVisibilityBatch', 'dynamodb.BatchGetItem', 'dynamodb.BatchWriteItem', 'dynamodb.UpdateItem'];
    figures.deliverySideRequestsPerDelivery = sumOf(requests, deliverySide) / expected;
    figures.allAwsRequestsPerDelivery = [...requests.values()].reduce((a, b) => a + b, 0) / expected;
    await new Promise((resolve) => setTimeout(resolve, 2000));

    // Latency at a fixed offered rate.
    receipts.length = 0;
    const latencyEvents = LATENCY_RATE * LATENCY_SECONDS;
    const tick = 100;
    const perTick = (LATENCY_RATE * tick) / 1000;
    for (let sent = 0; sent < latencyEvents; sent += perTick) {
      const next = Date.now() + tick;
      await publishBatch(events, perTick);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
    await waitFor(() => receipts.length >= latencyEvents * SUBSCRIPTIONS_PER_EVENT, 120_000);
    const latencies = receipts.map((r) => r.at - r.sentAt).sort((a, b) => a - b);
    figures.latencyP50Ms = percentile(latencies, 0.5);
    figures.latencyP95Ms = percentile(latencies, 0.95);
    figures.latencyP99Ms = percentile(latencies, 0.99);
  } finally {
    child.kill();
    await stack.stop();
  }
  Object.assign(figures, measureBundles());
  report(figures);
}

function sumOf(counts: Map<string, number>, keys: string[]): number {
  return keys.reduce((total, key) => total + (counts.get(key) ?? 0), 0);
}

async function publishBatch(events: EventBridgeClient, count: number): Promise<void> {
  const sentAt = Date.now();
  await events.send(
    new PutEventsCommand({
      Entries: Array.from({ length: count }, (_, n) => ({
        EventBusName: 'tiledesk',
        Source: 'tiledesk',
        DetailType: 'message.create',
        Detail: JSON.stringify({ id_project: 'bench', text: `message ${n}`, sentAt }),
      })),
    }),
  );
}

async function createSubscription(apiUrl: string, token: string, target: string): Promise<void> {
  const response = await fetch(`${apiUrl}/bench/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'message.create', target }),
  });
  if (response.status !== 201) throw new Error(`subscription failed: ${response.status}`);
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

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for deliveries');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/** Bundle size of each function `cdk synth` produces, and its load time in a fresh process (median of 5). */
function measureBundles(): Record<string, number> {
  rmSync('cdk.out', { recursive: true, force: true });
  execFileSync('npx', ['cdk', 'synth', '--quiet'], { stdio: 'ignore' });
  const template = JSON.parse(readFileSync('cdk.out/TiledeskWebhooks.template.json', 'utf8')) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties: { Environment?: { Variables?: Record<string, string> } } }>;
  };
  const figures: Record<string, number> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (resource.Type !== 'AWS::Lambda::Function' || !assetPath) continue;
    const file = path.resolve('cdk.out', assetPath, 'index.js');
    const times = Array.from({ length: 5 }, () => {
      const run = spawnSync(process.execPath, ['-e', `const t=performance.now();require(${JSON.stringify(file)});console.log(performance.now()-t)`], {
        env: { ...process.env, AWS_LAMBDA_FUNCTION_NAME: 'bench', TABLE_NAME: 't', DELIVERY_QUEUE_URL: 'q', FAN_OUT_QUEUE_URL: 'q', JWT_SECRET: 's', POWERTOOLS_TRACE_ENABLED: 'false' },
        encoding: 'utf8',
      });
      return Number(run.stdout.trim().split('\n').pop());
    }).sort((a, b) => a - b);
    const name = logicalId.replace(/Function[0-9A-F]{8}$/, '');
    figures[`bundleKB_${name}`] = statSync(file).size / 1024;
    figures[`loadMs_${name}`] = times[2] ?? NaN;
  }
  return figures;
}

function report(figures: Record<string, number>): void {
  const targets: [string, (f: Record<string, number>) => boolean, string][] = [
    ['end-to-end ≥ 1,000 deliveries/s', (f) => f.deliveriesPerSecond! >= 1000, `${figures.deliveriesPerSecond?.toFixed(0)} deliveries/s`],
    ['p99 ≤ 250 ms at 100 events/s', (f) => f.latencyP99Ms! <= 250, `p99 ${figures.latencyP99Ms} ms`],
    ['delivery side ≤ 0.6 AWS requests per delivery', (f) => f.deliverySideRequestsPerDelivery! <= 0.6, `${figures.deliverySideRequestsPerDelivery?.toFixed(2)} requests`],
    ['each bundle ≤ 300 KB', (f) => Object.entries(f).filter(([k]) => k.startsWith('bundleKB_')).every(([, v]) => v <= 300), 'see bundleKB_*'],
    ['each bundle loads in ≤ 100 ms', (f) => Object.entries(f).filter(([k]) => k.startsWith('loadMs_')).every(([, v]) => v <= 100), 'see loadMs_*'],
  ];
  console.log('\nfigure                                   value');
  for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(40)} ${value.toFixed(2)}`);
  console.log('\ntargets');
  for (const [name, check, detail] of targets) console.log(`${check(figures) ? 'PASS' : 'MISS'}  ${name}  (${detail})`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/bench.json', JSON.stringify({ at: new Date().toISOString(), events: EVENTS, figures }, null, 2));
  console.log('\nwritten to bench-results/bench.json');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
