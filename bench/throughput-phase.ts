/** The throughput phase: events published as fast as PutEvents allows, and what they cost in requests, units and CPU. */
import { Bench, EVENTS, SUBSCRIPTIONS_PER_EVENT, publishBatch, sumOf, waitFor } from './bench-context';
import { findChildPid, processCpuMs } from './process-cpu';

/**
 * Throughput: EVENTS published in batches of 10 as fast as PutEvents allows. Besides the rate,
 * it records requests by action and CPU: this whole process (`process.cpuUsage`) and the fauxqs
 * and dynalite children (`/proc/<pid>/stat`), each divided by deliveries. (What the requests
 * cost is the cost shapes' part, `cost-shapes-phase.ts`.)
 */
export async function measureThroughput(bench: Bench, figures: Record<string, number>): Promise<void> {
  const { requests, deliveryRequests, receipts } = bench;
  // deliveries/s (and the ratio) come from a first pass, on a stack that has handled nothing yet,
  // as the raw POST limit is measured on a fresh receiver; the second pass measures requests and
  // CPU, and its own rate is reported apart as the warm one.
  receipts.length = 0;
  const timedStart = Date.now();
  for (let sent = 0; sent < EVENTS; sent += 10) await publishBatch(bench.events, 10);
  await waitFor(() => receipts.length >= EVENTS * SUBSCRIPTIONS_PER_EVENT, 300_000);
  const timedSeconds = (Math.max(...receipts.map((r) => r.at)) - timedStart) / 1000;
  await settle(requests);
  const fauxqsPid = findChildPid('fauxqs-server.mjs');
  const dynalitePid = findChildPid('dynalite-server.mjs');
  requests.clear();
  deliveryRequests.clear();
  receipts.length = 0;
  const cpuBefore = process.cpuUsage();
  const fauxqsBefore = processCpuMs(fauxqsPid);
  const dynaliteBefore = processCpuMs(dynalitePid);
  const warmStart = Date.now();
  for (let sent = 0; sent < EVENTS; sent += 10) {
    await publishBatch(bench.events, 10);
  }
  const expected = EVENTS * SUBSCRIPTIONS_PER_EVENT;
  await waitFor(() => receipts.length >= expected, 300_000);
  const warmSeconds = (Math.max(...receipts.map((r) => r.at)) - warmStart) / 1000;
  await settle(requests);
  const cpu = process.cpuUsage(cpuBefore);
  const fauxqsCpuMs = processCpuMs(fauxqsPid) - fauxqsBefore;
  const dynaliteCpuMs = processCpuMs(dynalitePid) - dynaliteBefore;

  figures.deliveriesPerSecond = expected / timedSeconds;
  figures.ratioToLimit = figures.deliveriesPerSecond / figures.limitPostsPerSecond!;
  // The same events again on the warmed stack: told apart, not instead (see run.ts's warm limit).
  figures.deliveriesPerSecond_warm = expected / warmSeconds;
  // The delivery functions' own requests (their event sources' included), idle polls left out:
  // those depend on how long the pollers wait, and the cost model bills Lambda's 20 s polls instead.
  figures.deliverySideRequestsPerDelivery = [...deliveryRequests.values()].reduce((a, b) => a + b, 0) / expected;
  figures.allAwsRequestsPerDelivery = [...requests.values()].reduce((a, b) => a + b, 0) / expected;
  figures.cpuMsPerDelivery_benchProcess = (cpu.user + cpu.system) / 1000 / expected;
  figures.cpuMsPerDelivery_sqsEmulator = fauxqsCpuMs / expected;
  figures.cpuMsPerDelivery_dynamoEmulator = dynaliteCpuMs / expected;

  // Each invocation that succeeds ends in one DeleteMessageBatch; a delivery invocation reads
  // its subscriptions with exactly one BatchGetItem.
  const deliveryInvocations = requests.get('dynamodb.BatchGetItem') ?? 0;
  const fanOutInvocations = (requests.get('sqs.DeleteMessageBatch') ?? 0) - deliveryInvocations;
  figures.lambdaInvocationsPerDelivery = (deliveryInvocations + fanOutInvocations) / expected;
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

