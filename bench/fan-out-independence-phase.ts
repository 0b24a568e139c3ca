/** The fan-out independence phase: the fan-out's cost with and without unrelated subscriptions in the table. */
import { GetQueueAttributesCommand, PurgeQueueCommand, QueueAttributeName, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Bench, FAN_OUT_EVENTS, FAN_OUT_ROUNDS, PROJECT, SUBSCRIPTIONS_PER_EVENT, TOPIC, UNRELATED_SUBSCRIPTIONS, percentile, publishMany, waitFor } from './bench-context';
import { insertUnrelatedSubscriptions } from './unrelated-subscriptions';

/**
 * Fan-out cost independence: rounds of FAN_OUT_EVENTS events for the benchmark's project and
 * topic (3 subscribers), first with only those subscriptions in the table, then with
 * UNRELATED_SUBSCRIPTIONS more of other topics and projects. Deliveries are held back — the
 * delivery queue delays every message 15 minutes — so the fan-out runs alone: its DynamoDB
 * requests are all the table sees, and it ends when the fan-out queue is empty after the last
 * PutEvents (polled every 10 ms; until 2026-12-05 when the delivery queue held a message per
 * delivery, which packs no longer give). Time per event is the median round's time from the
 * first PutEvents to that moment, divided by the events.
 */
export async function measureFanOutIndependence(bench: Bench): Promise<Record<string, number>> {
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
    await publishMany(bench.events, FAN_OUT_EVENTS, 5);
    // The fan-out is done when its queue is empty: a batch's messages are sent before it is deleted.
    const fanOutQueue = bench.stack.queues.fanOut.url;
    await waitFor(async () => (await count(fanOutQueue, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'])) === 0, 60_000, 10);
    times.push((performance.now() - started) / FAN_OUT_EVENTS);
    // A batch's deliveries go as one pack per subscriber (docs/design.md §3.20): the 3 subscribers'
    // packs of each batch, none for the others, so a multiple of 3 between a tenth and all of them.
    const messages = await delayed();
    if (messages % SUBSCRIPTIONS_PER_EVENT !== 0 || messages < expected / 10 || messages > expected) {
      throw new Error(`the fan-out sent ${messages} delivery messages for ${FAN_OUT_EVENTS} events to ${SUBSCRIPTIONS_PER_EVENT} subscribers`);
    }
    dynamoRequests += [...bench.requests].filter(([key]) => key.startsWith('dynamodb.')).reduce((sum, [, n]) => sum + n, 0);
  }
  return { dynamoRequestsPerEvent: dynamoRequests / (FAN_OUT_ROUNDS * FAN_OUT_EVENTS), msPerEvent: percentile(times.sort((a, b) => a - b), 0.5) };
}

