/** The throughput phase: events published as fast as PutEvents allows, and what they cost in requests, units and CPU. */
import { planDeliveries } from '../lambdas/core/fan-out';
import { Bench, EVENTS, SUBSCRIPTIONS_PER_EVENT, TOPIC, eventDetail, publishBatch, sumOf, waitFor } from './bench-context';
import { UsageInputs } from './cost-phase';
import { meterCapacity } from './dynamodb-capacity';
import { findChildPid, processCpuMs } from './process-cpu';

/**
 * Throughput: EVENTS published in batches of 10 as fast as PutEvents allows. Besides the rate,
 * it records what the cost model needs — requests by action, DynamoDB capacity units (metered
 * on the handlers' shared client) — and CPU: this whole process (`process.cpuUsage`, less the
 * metering itself) and the fauxqs and dynalite children (`/proc/<pid>/stat`), each divided by deliveries.
 */
export async function measureThroughput(bench: Bench, figures: Record<string, number>): Promise<Omit<UsageInputs, 'memoryMB'>> {
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

