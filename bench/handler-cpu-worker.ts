/**
 * A worker thread of `npm run bench` that invokes the fan-out and delivery handlers directly,
 * as the Lambda service would, and reports the CPU time of this thread alone. Everything else
 * the invocations need — the AWS endpoint on the main thread, dynalite, fauxqs and the
 * receiver in their own processes — runs elsewhere, so the figure is the functions' own CPU:
 * handler code, SDK clients and their HTTP, middy and Powertools, JSON and signing, and this
 * thread's share of garbage collection. The SQS polling of an event source mapping is the
 * Lambda service's work, not the function's, and is left out.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EventEnvelope, planDeliveries } from '../lambdas/core/fan-out';
import { handler as deliveryHandler } from '../lambdas/handlers/delivery';
import { handler as fanOutHandler } from '../lambdas/handlers/fan-out';
import { localLambdaContext } from '../local/lambda-context';

/** What `bench/run.ts` hands this worker. */
export interface HandlerCpuRequest {
  projectId: string;
  /** The project's subscriptions to message.create, all pointing at the receiver. */
  subscriptionIds: string[];
  events: number;
  deliveries: number;
  fanOutConcurrency: number;
  deliveryConcurrency: number;
  clockTicksPerSecond: number;
}

/** CPU and wall time of one handler over its measured invocations. */
export interface HandlerCpu {
  cpuMs: number;
  wallMs: number;
  records: number;
  invocations: number;
}

const BATCH_SIZE = 10;
const WARM_UP_BATCHES = 20;

type Handler = (event: SQSEvent, context: ReturnType<typeof localLambdaContext>) => Promise<SQSBatchResponse>;

/** utime + stime of the calling thread, from the kernel's per-thread accounting (clock ticks). */
function threadCpuMs(ticksPerSecond: number): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

function envelope(projectId: string, n: number): EventEnvelope {
  return {
    id: randomUUID(),
    'detail-type': 'message.create',
    source: 'tiledesk',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    detail: { id_project: projectId, text: `message ${n}`, sentAt: Date.now() },
  };
}

function record(body: string, queue: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: 'bench', ApproximateFirstReceiveTimestamp: now },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
    awsRegion: 'us-east-1',
  };
}

function batches(bodies: string[], queue: string): SQSEvent[] {
  const events: SQSEvent[] = [];
  for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
    events.push({ Records: bodies.slice(start, start + BATCH_SIZE).map((body) => record(body, queue)) });
  }
  return events;
}

/** Invokes the handler on every batch, `concurrency` at a time, failing on any failed record. */
async function invokeAll(handler: Handler, functionName: string, events: SQSEvent[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < events.length) {
        const event = events[next++]!;
        const response = await handler(event, localLambdaContext(functionName, 60));
        if (response.batchItemFailures.length > 0) throw new Error(`${functionName} failed ${response.batchItemFailures.length} record(s)`);
      }
    }),
  );
}

/** Warms the handler up (JIT, connection pools), then measures it on the rest. */
async function measure(handler: Handler, functionName: string, events: SQSEvent[], concurrency: number, ticks: number): Promise<HandlerCpu> {
  await invokeAll(handler, functionName, events.slice(0, WARM_UP_BATCHES), concurrency);
  const measured = events.slice(WARM_UP_BATCHES);
  const cpuBefore = threadCpuMs(ticks);
  const started = performance.now();
  await invokeAll(handler, functionName, measured, concurrency);
  return {
    cpuMs: threadCpuMs(ticks) - cpuBefore,
    wallMs: performance.now() - started,
    records: measured.reduce((sum, event) => sum + event.Records.length, 0),
    invocations: measured.length,
  };
}

async function run(request: HandlerCpuRequest): Promise<{ fanOut: HandlerCpu; delivery: HandlerCpu }> {
  const ticks = request.clockTicksPerSecond;
  const warmUpRecords = WARM_UP_BATCHES * BATCH_SIZE;
  const envelopes = Array.from({ length: request.events + warmUpRecords }, (_, n) => envelope(request.projectId, n));
  const fanOut = await measure(
    fanOutHandler as Handler,
    'fan-out',
    batches(envelopes.map((e) => JSON.stringify(e)), 'fan-out'),
    request.fanOutConcurrency,
    ticks,
  );

  // The delivery messages the fan-out writes, built by the same function it uses.
  const bodies: string[] = [];
  for (let n = 0; bodies.length < request.deliveries + warmUpRecords; n++) {
    const planned = await planDeliveries(envelope(request.projectId, n), async () => request.subscriptionIds);
    bodies.push(...planned.map((message) => JSON.stringify(message)));
  }
  const delivery = await measure(deliveryHandler as Handler, 'delivery', batches(bodies, 'delivery'), request.deliveryConcurrency, ticks);
  return { fanOut, delivery };
}

run(workerData as HandlerCpuRequest).then(
  (result) => parentPort?.postMessage(result),
  (error: unknown) => {
    throw error;
  },
);
