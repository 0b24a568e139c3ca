/**
 * `npm run test:reliability`: the pipeline against a receiver that fails on purpose, on the
 * local stack with its real emulators.
 *
 * 1. Chaos: EVENTS events × 3 subscriptions. The receiver answers at random 500/503, 429 with
 *    Retry-After, a 302, hangs past the delivery timeout, resets the connection, or a 2xx
 *    (some slow). The retry schedule is short (1, 2, 3 s). Meanwhile, through the handlers'
 *    own test seams (`fanOutDeps`, `deliveryDeps`), the fan-out throws on some records mid-batch
 *    or has a message refused, and the delivery handler throws on some batches after its POSTs
 *    and before logging them.
 *    Every (event, subscription) pair must end delivered (the receiver answered 2xx) or in the
 *    DLQ, with its attempts logged; every body must carry the published payload byte for byte
 *    and a signature `standardwebhooks` accepts; duplicates are counted. SQS leaves a copy of
 *    2 % of the messages received (RELIABILITY_SQS_DUPLICATE_RATE), as it may on AWS.
 *    Beside them (unless RELIABILITY_BAD_NEIGHBOURS=0), a second project's subscriber whose
 *    endpoint never answers gets a tenth as many events, and one event in fifty of the chaos
 *    project carries a payload nested 3,000 levels deep (DynamoDB refuses maps past 32): the
 *    chaos pairs must still all settle, within 2× the time of a run without them.
 * 2. Burst: BURST events published at once to a healthy receiver; the time to drain is reported.
 *
 * Prints the figures, writes them to bench-results/reliability.json, and ends with the counts
 * as its final lines. Exits 1 when anything is lost, altered, unsigned or unlogged.
 */
import { ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Webhook } from 'standardwebhooks';
import { webhookIdOf } from '../../lambdas/core/delivery-message';
import { signToken } from '../../lambdas/core/token';
import { LocalStack, startLocalStack } from '../../local/local-stack';
import { seededRandom } from '../support/seeded-random';

const env = process.env;
const EVENTS = Number(env.RELIABILITY_EVENTS ?? 5000);
const BURST = Number(env.RELIABILITY_BURST ?? 10_000);
const SEED = Number(env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
const SUBSCRIPTIONS = 3;
const RETRY_SCHEDULE = [1, 2, 3];
const DELIVERY_TIMEOUT_MS = 800;
/** An open circuit's first cool-down (30 s deployed), doubled at each failed probe. */
const CIRCUIT_COOLDOWN_SECONDS = 5;
/** A hanging receiver holds the request this long, well past the delivery timeout. */
const HANG_MS = 1500;
/** A batch whose invocation threw comes back after this (360 s deployed). */
const VISIBILITY_TIMEOUT_SECONDS = 10;
/** Injected failures: share of fan-out records, share of delivery batches. */
const FAN_OUT_THROW_RATE = 0.02;
const DELIVERY_THROW_RATE = 0.01;
/**
 * Share of SQS receives that leave a copy of the message behind (standard queues deliver at
 * least once; docs/design.md §3.14): events fanned out twice, deliveries handled twice.
 */
const SQS_DUPLICATE_RATE = Number(env.RELIABILITY_SQS_DUPLICATE_RATE ?? 0.02);
/**
 * How long pairs may take to settle before the unsettled ones count as lost. Pairs whose
 * subscription's circuit opened wait out cool-downs (then 30 s, doubled after each failed
 * probe), and the deliveries it parked are released paced, so on a slow machine settling has
 * taken over 180 s (CI, 2026-12-03: 22 pairs unsettled at 180 s; the same seed settled in 102 s
 * on a re-run) and once 300 s (CI, 2026-12-04: 989 unsettled, 984 never attempted, when parked
 * deliveries went at a fixed 10/s). A lost pair never settles, however long this is; the run
 * prints where unsettled pairs wait (`describeUnsettled`).
 */
const SETTLE_TIMEOUT_MS = Number(env.RELIABILITY_SETTLE_TIMEOUT_MS ?? 300_000);
/** A project whose endpoint never answers, and deep payloads among the chaos events. */
const BAD_NEIGHBOURS = env.RELIABILITY_BAD_NEIGHBOURS !== '0';
const NEIGHBOUR_SHARE = 0.1;
const DEEP_PAYLOAD_EVERY = 50;
const DEEP_PAYLOAD_LEVELS = 3000;

/** A request as the chaos receiver reports it. */
interface Receipt {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The status answered, or what happened instead. */
  outcome: number | 'hang' | 'reset' | 'gone';
}

/** One (event, subscription) pair the pipeline owes a delivery. */
interface Pair {
  webhookId: string;
  subscriptionId: string;
  secret: string;
  detail: string;
  received: number;
  /** What the receiver answered, in order of arrival. */
  answers: Receipt['outcome'][];
  delivered: number;
  dead: boolean;
  /** Attempts the handler made but could not log, because the injected failure struck first. */
  unloggable: number;
}

const rate = (random: () => number, share: number) => random() < share;

async function main(): Promise<void> {
  env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const started = Date.now();
  const random = seededRandom(SEED);
  const unexpectedErrors: string[] = [];
  const receiver = await startReceiver(SEED);
  const jwtSecret = 'reliability-secret';
  const stack = await startLocalStack({
    port: 0,
    awsPort: 0,
    jwtSecret,
    retrySchedule: RETRY_SCHEDULE,
    deliveryTimeoutMs: DELIVERY_TIMEOUT_MS,
    deliveryVisibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    // Lambda requires the queue's visibility timeout ≥ the function timeout.
    deliveryFunctionTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    // Dead deliveries are expected here; none should disable a subscription mid-run.
    autoDisableAfterDead: 1_000_000,
    // Shortened as the retry schedule is: with 23 % of answers failing, a circuit opens a few
    // times a run and its probe fails 1 time in 4, so at 30 s, doubled at each failed probe,
    // three failed probes in a row (30 + 60 + 120 + 240 s) outlast the run's wait.
    circuitCooldownSeconds: CIRCUIT_COOLDOWN_SECONDS,
    deliveryConcurrency: 8,
    fanOutConcurrency: 2,
    sqsDuplicateRate: SQS_DUPLICATE_RATE,
    // The run swaps fanOutDeps and deliveryDeps in this process: the functions run here too.
    functionThread: false,
    onError: (error) => {
      if (!(error instanceof InjectedFailure)) unexpectedErrors.push(String(error));
    },
  });
  const result: Record<string, unknown> = { seed: SEED, events: EVENTS, subscriptions: SUBSCRIPTIONS, burst: BURST, badNeighbours: BAD_NEIGHBOURS };
  let failed = false;
  try {
    const injected = await injectFailures(random);
    const sqs = new SQSClient({});
    const bus = new EventBridgeClient({});

    // 1. Chaos.
    const token = signToken({ sub: 'reliability', platform: true }, jwtSecret);
    const subscriptions = await Promise.all(
      Array.from({ length: SUBSCRIPTIONS }, (_, n) =>
        subscribe(stack, token, 'reliability', `http://127.0.0.1:${receiver.port}/chaos/${n}`),
      ),
    );
    const pairs = new Map<string, Pair>();
    if (BAD_NEIGHBOURS) {
      await subscribe(stack, token, 'neighbour', `http://127.0.0.1:${receiver.port}/never`);
    }
    const [published] = await Promise.all([
      publishAll(bus, stack, 'reliability', EVENTS, 10),
      BAD_NEIGHBOURS ? publishAll(bus, stack, 'neighbour', Math.round(EVENTS * NEIGHBOUR_SHARE), 1) : Promise.resolve(new Map<string, string>()),
    ]);
    for (const [eventId, detail] of published) {
      for (const subscription of subscriptions) {
        const webhookId = webhookIdOf(eventId, subscription._id);
        pairs.set(webhookId, {
          webhookId,
          subscriptionId: subscription._id,
          secret: subscription.secret,
          detail,
          received: 0,
          answers: [],
          delivered: 0,
          dead: false,
          unloggable: 0,
        });
      }
    }
    const checks = { badSignature: 0, badBody: 0, unknownWebhookId: 0 };
    const burstIds = new Set<string>();
    let burstReceived = 0;
    receiver.onReceipts = (receipts) => {
      checkReceipts(receipts, pairs, checks);
      for (const receipt of receipts.filter((r) => r.path.startsWith('/ok/'))) {
        burstReceived++;
        burstIds.add(receipt.id);
      }
    };
    receiver.onReceipts(receiver.backlog.splice(0));

    // The neighbour's deliveries never end well and keep circulating (held by its open circuit),
    // so with neighbours only the chaos pairs and the fan-out queue must settle.
    const chaosSettled = await settle(sqs, stack, SETTLE_TIMEOUT_MS, !BAD_NEIGHBOURS, async () => {
      for (const id of await drainQueue(sqs, stack.queues.deliveryDlq.url)) {
        const pair = pairs.get(id);
        if (pair) pair.dead = true;
      }
      return [...pairs.values()].every((pair) => pair.delivered > 0 || pair.dead);
    });
    // Where pairs still wait when the time is up, read at once (the burst below changes nothing of
    // theirs, but their circuits and wake-ups move on).
    const unsettled = [...pairs.values()].some((pair) => pair.delivered === 0 && !pair.dead)
      ? await describeUnsettled(pairs, 'reliability', subscriptions.map((s) => s._id))
      : undefined;
    const fanOutDead = (await drainQueue(sqs, stack.queues.fanOutDlq.url)).length;
    injected.enabled = false;

    // 2. Burst.
    const burstSubscription = await subscribe(stack, token, 'burst', `http://127.0.0.1:${receiver.port}/ok/burst`);
    const burstStarted = Date.now();
    const burstEvents = await publishAll(bus, stack, 'burst', BURST, 50);
    const publishSeconds = (Date.now() - burstStarted) / 1000;
    const burstSettled = await settle(sqs, stack, SETTLE_TIMEOUT_MS, !BAD_NEIGHBOURS, async () => burstIds.size >= burstEvents.size);
    const expectedBurstIds = new Set([...burstEvents.keys()].map((eventId) => webhookIdOf(eventId, burstSubscription._id)));
    const burst = {
      events: BURST,
      delivered: [...expectedBurstIds].filter((id) => burstIds.has(id)).length,
      lost: [...expectedBurstIds].filter((id) => !burstIds.has(id)).length,
      duplicates: burstReceived - burstIds.size,
      publishSeconds,
      drainSeconds: (burstSettled.at - burstStarted) / 1000,
    };
    result.burst = burst;

    // The chaos figures last: once no invocation is in flight (a batch redelivered after its
    // visibility timeout can overlap a slow first invocation) and every receipt has arrived.
    await stack.stopEventSources();
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const pair of pairs.values()) pair.unloggable = injected.unlogged.get(pair.webhookId) ?? 0;
    const logs = await checkAttemptLogs(pairs, 'reliability', subscriptions.map((s) => s._id));
    const all = [...pairs.values()];
    const counts = {
      pairs: all.length,
      delivered: all.filter((pair) => pair.delivered > 0).length,
      dead: all.filter((pair) => pair.delivered === 0 && pair.dead).length,
      deliveredThenDeadLettered: all.filter((pair) => pair.delivered > 0 && pair.dead).length,
      lost: all.filter((pair) => pair.delivered === 0 && !pair.dead).length,
      duplicates: all.filter((pair) => pair.delivered > 1).length,
      requestsReceived: all.reduce((sum, pair) => sum + pair.received, 0),
      fanOutDeadLettered: fanOutDead,
      ...checks,
      ...logs,
      injectedFanOutThrows: injected.fanOutThrows,
      injectedFanOutRefusals: injected.fanOutRefusals,
      injectedDeliveryThrows: injected.deliveryThrows,
      settledInSeconds: chaosSettled.seconds,
    };
    result.chaos = counts;
    if (unsettled) result.unsettled = unsettled;
    result.unexpectedErrors = unexpectedErrors.slice(0, 20);
    result.totalSeconds = (Date.now() - started) / 1000;

    printReport(counts, burst, unexpectedErrors, result.totalSeconds as number);
    failed =
      counts.lost > 0 ||
      counts.fanOutDeadLettered > 0 ||
      counts.badSignature > 0 ||
      counts.badBody > 0 ||
      counts.unknownWebhookId > 0 ||
      counts.pairsWithoutLogs > 0 ||
      counts.unexplainedUnlogged > 0 ||
      counts.deadWithoutDeadLog > 0 ||
      burst.lost > 0 ||
      injected.fanOutThrows === 0 ||
      injected.fanOutRefusals === 0 ||
      injected.deliveryThrows === 0 ||
      unexpectedErrors.length > 0;
  } finally {
    receiver.child.kill();
    await stack.stop();
  }
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/reliability.json', JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2));
  if (failed) {
    console.error('\nRELIABILITY RUN FAILED (see the figures above and bench-results/reliability.json)');
    process.exitCode = 1;
  }
}

/** A failure the run injects on purpose. */
class InjectedFailure extends Error {
  constructor(where: string) {
    super(`injected failure in ${where}`);
    this.name = 'InjectedFailure';
  }
}

/**
 * Wraps the handlers' seams: the fan-out's subscriber lookup throws for some records (the
 * others of the batch go on), its send has one entry refused now and then (as SQS may), and
 * the delivery's attempt-log write throws for some batches — after the POSTs, so the whole
 * batch comes back and is delivered again.
 */
async function injectFailures(random: () => number) {
  const [{ fanOutDeps }, { deliveryDeps }] = await Promise.all([
    import('../../lambdas/handlers/fan-out'),
    import('../../lambdas/handlers/delivery'),
  ]);
  const state = {
    enabled: true,
    fanOutThrows: 0,
    fanOutRefusals: 0,
    deliveryThrows: 0,
    /** Webhook ids whose attempt could not be logged because the injected failure struck: how often. */
    unlogged: new Map<string, number>(),
  };
  const findSubscriberFamily = fanOutDeps.findSubscriberFamily;
  fanOutDeps.findSubscriberFamily = async (projectId, family) => {
    if (state.enabled && rate(random, FAN_OUT_THROW_RATE)) {
      state.fanOutThrows++;
      throw new InjectedFailure('fan-out');
    }
    return findSubscriberFamily(projectId, family);
  };
  const enqueue = fanOutDeps.enqueue;
  fanOutDeps.enqueue = async (bodies) => {
    if (!state.enabled || bodies.length === 0 || !rate(random, FAN_OUT_THROW_RATE)) return enqueue(bodies);
    // As if SQS refused one entry of the batch: that message is not sent, its event is retried.
    state.fanOutRefusals++;
    const refused = Math.floor(random() * bodies.length);
    const unsent = await enqueue(bodies.filter((_, index) => index !== refused));
    return [
      ...unsent.map(({ index, reason }) => ({ index: index < refused ? index : index + 1, reason })),
      { index: refused, reason: 'InjectedRefusal: refused on purpose' },
    ];
  };
  const writeAttempts = deliveryDeps.writeAttempts;
  deliveryDeps.writeAttempts = async (attempts) => {
    if (state.enabled && rate(random, DELIVERY_THROW_RATE)) {
      state.deliveryThrows++;
      for (const { webhookId } of attempts) state.unlogged.set(webhookId, (state.unlogged.get(webhookId) ?? 0) + 1);
      throw new InjectedFailure('delivery');
    }
    return writeAttempts(attempts);
  };
  return state;
}

/** Checks each request: known webhook-id, valid signature, the published payload byte for byte. */
function checkReceipts(receipts: Receipt[], pairs: Map<string, Pair>, checks: { badSignature: number; badBody: number; unknownWebhookId: number }): void {
  for (const receipt of receipts) {
    if (!receipt.path.startsWith('/chaos/')) continue;
    const pair = pairs.get(receipt.id);
    if (!pair) {
      checks.unknownWebhookId++;
      continue;
    }
    pair.received++;
    pair.answers.push(receipt.outcome);
    if (typeof receipt.outcome === 'number' && receipt.outcome >= 200 && receipt.outcome < 300) pair.delivered++;
    try {
      new Webhook(pair.secret).verify(receipt.body, {
        'webhook-id': receipt.id,
        'webhook-timestamp': receipt.timestamp,
        'webhook-signature': receipt.signature,
      });
    } catch {
      checks.badSignature++;
    }
    const hook = (JSON.parse(receipt.body) as { hook?: { _id?: string } }).hook;
    if (!receipt.body.includes(`,"payload":${pair.detail},"token":"`) || hook?._id !== pair.subscriptionId) checks.badBody++;
  }
}

/**
 * Compares the attempt logs with what the receiver saw: every pair has logged attempts, every
 * request that reached the receiver is logged unless its batch's log write was the injected
 * failure, and every dead-lettered pair has a `dead` attempt unless its last batch threw.
 */
async function checkAttemptLogs(pairs: Map<string, Pair>, projectId: string, subscriptionIds: string[]) {
  // Imported here, not at the top: the adapters build their logger at import, from the
  // environment the local stack sets.
  const { AttemptLogStore } = await import('../../lambdas/adapters/attempt-log-store');
  const store = new AttemptLogStore(process.env.TABLE_NAME!);
  const logged = new Map<string, { count: number; dead: boolean; attempts: string[] }>();
  let attemptsLogged = 0;
  for (const subscriptionId of subscriptionIds) {
    for (const attempt of await store.listSince(projectId, subscriptionId, new Date(0))) {
      attemptsLogged++;
      const entry = logged.get(attempt.webhookId) ?? { count: 0, dead: false, attempts: [] };
      entry.count++;
      entry.attempts.push(`#${attempt.attempt} ${attempt.attemptedAt} ${attempt.outcome} ${attempt.statusCode ?? attempt.errorKind ?? ''}`);
      entry.dead ||= attempt.outcome === 'dead';
      logged.set(attempt.webhookId, entry);
    }
  }
  let unloggedAttempts = 0;
  let unloggableAttempts = 0;
  let unexplainedUnlogged = 0;
  let pairsWithoutLogs = 0;
  let deadWithoutDeadLog = 0;
  const examples: string[] = [];
  for (const pair of pairs.values()) {
    const entry = logged.get(pair.webhookId);
    if (!entry && pair.unloggable === 0) pairsWithoutLogs++;
    unloggedAttempts += Math.max(0, pair.received - (entry?.count ?? 0));
    unexplainedUnlogged += Math.max(0, pair.received - (entry?.count ?? 0) - pair.unloggable);
    if (pair.received - (entry?.count ?? 0) > pair.unloggable && examples.length < 5) {
      examples.push(`${pair.webhookId}: received ${JSON.stringify(pair.answers)}, logged ${JSON.stringify(entry?.attempts.sort() ?? [])}, unloggable ${pair.unloggable}`);
    }
    unloggableAttempts += pair.unloggable;
    if (pair.dead && !entry?.dead && pair.unloggable === 0) deadWithoutDeadLog++;
  }
  for (const example of examples) console.log(`attempt received but not logged: ${example}`);
  return { attemptsLogged, unloggedAttempts, unloggableAttempts, unexplainedUnlogged, pairsWithoutLogs, deadWithoutDeadLog };
}

/**
 * Where the pairs still unsettled wait, per subscription: how many, and its delivery health (an
 * open circuit and its cool-down, deliveries parked and the wake-up that releases them), so a
 * run that ran out of time says whether they were held or lost. Printed, and kept in the JSON.
 */
async function describeUnsettled(pairs: Map<string, Pair>, projectId: string, subscriptionIds: string[]) {
  const { DeliveryHealthStore } = await import('../../lambdas/adapters/delivery-health-store');
  const healths = await new DeliveryHealthStore(process.env.TABLE_NAME!).getMany(subscriptionIds.map((subscriptionId) => ({ projectId, subscriptionId })));
  const now = Date.now();
  const inSeconds = (at: number | undefined) => (at === undefined ? undefined : Math.round((at - now) / 1000));
  const described = subscriptionIds.map((subscriptionId) => {
    const health = healths.get(subscriptionId)!;
    return {
      subscriptionId,
      unsettled: [...pairs.values()].filter((pair) => pair.subscriptionId === subscriptionId && pair.delivered === 0 && !pair.dead).length,
      circuit: health.circuit,
      openUntilInSeconds: inSeconds(health.openUntil),
      cooldownSeconds: health.cooldownSeconds,
      consecutiveFailures: health.consecutiveFailures,
      heldCount: health.heldCount ?? 0,
      wakeAtInSeconds: inSeconds(health.wakeAt),
    };
  });
  for (const entry of described) console.log(`unsettled: ${JSON.stringify(entry)}`);
  return described;
}

/**
 * Waits until `done` holds and both pipeline queues are empty (nothing waiting, nothing in
 * flight), or the timeout passes; returns when that was and how long it took.
 */
async function settle(
  sqs: SQSClient,
  stack: LocalStack,
  timeoutMs: number,
  deliveryQueuesToo: boolean,
  done: () => Promise<boolean>,
): Promise<{ at: number; seconds: number }> {
  const started = Date.now();
  for (;;) {
    const finished =
      (await done()) &&
      (await queueEmpty(sqs, stack.queues.fanOut.url)) &&
      (!deliveryQueuesToo || ((await queueEmpty(sqs, stack.queues.delivery.url)) && (await queueEmpty(sqs, stack.queues.slowDelivery.url))));
    if (finished || Date.now() - started > timeoutMs) {
      const at = Date.now();
      return { at, seconds: (at - started) / 1000 };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function queueEmpty(sqs: SQSClient, queueUrl: string): Promise<boolean> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages) === 0 && Number(Attributes?.ApproximateNumberOfMessagesNotVisible) === 0;
}

/** Takes every message out of a DLQ and returns their webhook ids (or event ids). */
async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    // A long poll: a short one asks some of SQS's servers and may answer empty while messages wait.
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (Messages.length === 0) return ids;
    for (const message of Messages) {
      const body = JSON.parse(message.Body ?? '{}') as { webhookId?: string; id?: string; pack?: { webhookId: string }[] };
      // A pack of deliveries (docs/design.md §3.20) dead-lettered as poison carries several.
      if (body.pack) ids.push(...body.pack.map((delivery) => delivery.webhookId));
      else ids.push(body.webhookId ?? body.id ?? '');
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
      }),
    );
  }
}

/**
 * Publishes `count` events in PutEvents batches of 10, `parallel` calls at a time; returns each
 * event id with the exact Detail string sent. Details vary in size and characters, and list
 * `id_project` last, so a reordered or re-encoded payload shows.
 */
async function publishAll(bus: EventBridgeClient, stack: LocalStack, projectId: string, count: number, parallel: number): Promise<Map<string, string>> {
  const published = new Map<string, string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const first = next;
        next = Math.min(count, next + 10);
        const details = Array.from({ length: next - first }, (_, n) => detailOf(projectId, first + n));
        const { FailedEntryCount, Entries = [] } = await bus.send(
          new PutEventsCommand({
            Entries: details.map((detail) => ({ EventBusName: stack.busName, Source: 'tiledesk', DetailType: 'message.create', Detail: detail })),
          }),
        );
        if (FailedEntryCount) throw new Error(`PutEvents refused ${FailedEntryCount} entries: ${JSON.stringify(Entries.find((entry) => entry.ErrorCode))}`);
        Entries.forEach((entry, n) => published.set(entry.EventId!, details[n]!));
      }
    }),
  );
  return published;
}

function detailOf(projectId: string, sequence: number): string {
  const deep = BAD_NEIGHBOURS && projectId === 'reliability' && sequence % DEEP_PAYLOAD_EVERY === 0;
  return JSON.stringify({
    sequence,
    ...(deep ? { nested: nested(DEEP_PAYLOAD_LEVELS) } : {}),
    text: `message ${sequence}: café, 日本語, emoji 🚀, quote " backslash \\ newline \n tab \t`,
    sender: { id: `user-${sequence % 97}`, fullname: 'Zoë Ångström', attributes: { score: sequence / 7, tags: ['a', 'b', null, true] } },
    padding: 'x'.repeat(sequence % 1500),
    '10': 'integer-like key',
    id_project: projectId,
  });
}

/** A value nested `levels` deep: DynamoDB refuses maps past 32 levels; the logs must not care. */
function nested(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < levels; level++) value = { a: value };
  return value;
}

async function subscribe(stack: LocalStack, token: string, projectId: string, target: string): Promise<{ _id: string; secret: string }> {
  const response = await fetch(`${stack.apiUrl}/${projectId}/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'message.create', target }),
  });
  if (response.status !== 200) throw new Error(`subscription failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as { _id: string; secret: string };
}

interface ReceiverProcess {
  child: ChildProcess;
  port: number;
  /** Receipts that arrived before a handler was set. */
  backlog: Receipt[];
  onReceipts?: (receipts: Receipt[]) => void;
}

function startReceiver(seed: number): Promise<ReceiverProcess> {
  const child = fork(path.join(__dirname, 'chaos-receiver.mjs'), { env: { ...env, CHAOS_SEED: String(seed), CHAOS_HANG_MS: String(HANG_MS) } });
  return new Promise((resolve, reject) => {
    const receiver: ReceiverProcess = { child, port: 0, backlog: [] };
    child.on('error', reject);
    child.on('message', (message: { port?: number } | Receipt[]) => {
      if (!Array.isArray(message)) {
        receiver.port = message.port ?? 0;
        resolve(receiver);
      } else if (receiver.onReceipts) receiver.onReceipts(message);
      else receiver.backlog.push(...message);
    });
  });
}


function printReport(counts: Record<string, number>, burst: Record<string, number>, unexpectedErrors: string[], totalSeconds: number): void {
  console.log(`\nreliability run, seed ${SEED} (RELIABILITY_SEED=${SEED} repeats the receiver's and the injected failures' draws; SQS copies of ${SQS_DUPLICATE_RATE * 100} % of the messages received are drawn afresh)`);
  console.log(
    `chaos: ${EVENTS} events × ${SUBSCRIPTIONS} subscriptions, retries after ${RETRY_SCHEDULE.join(', ')} s, timeout ${DELIVERY_TIMEOUT_MS} ms, ` +
      `circuit cool-down ${CIRCUIT_COOLDOWN_SECONDS} s`,
  );
  console.log(
    BAD_NEIGHBOURS
      ? `  beside a project whose endpoint never answers (${Math.round(EVENTS * NEIGHBOUR_SHARE)} events), and 1 event in ${DEEP_PAYLOAD_EVERY} nested ${DEEP_PAYLOAD_LEVELS} levels deep`
      : '  without bad neighbours (RELIABILITY_BAD_NEIGHBOURS=0)',
  );
  for (const [name, value] of Object.entries(counts)) console.log(`  ${name.padEnd(28)} ${value}`);
  console.log(`burst: ${BURST} events published at once to a healthy receiver`);
  for (const [name, value] of Object.entries(burst)) console.log(`  ${name.padEnd(28)} ${Number.isInteger(value) ? value : value.toFixed(1)}`);
  if (unexpectedErrors.length > 0) console.log(`unexpected handler errors: ${unexpectedErrors.length}, first: ${unexpectedErrors[0]}`);
  console.log(`total ${totalSeconds.toFixed(0)} s\n`);
  console.log(`delivered ${counts.delivered}, dead ${counts.dead}, lost ${counts.lost}, duplicates ${counts.duplicates}`);
  console.log(`burst: delivered ${burst.delivered}, lost ${burst.lost}, duplicates ${burst.duplicates}, drained in ${burst.drainSeconds!.toFixed(1)} s`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
