/**
 * What the benchmark's phases share: its settings, the stack and receiver they drive, and the
 * helpers that publish events, create subscriptions and wait for receipts.
 */
import { ChildProcess, fork, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { signToken } from '../lambdas/core/token';
import { LocalStack } from '../local/local-stack';

export const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
/** Size of each event's detail: padded up to this many bytes when set (Tiledesk's message events are often a few KB). */
export const PAYLOAD_BYTES = Number(process.env.BENCH_PAYLOAD_BYTES ?? 0);
export const SUBSCRIPTIONS_PER_EVENT = 3;
export const LATENCY_RATE = 100;
export const LATENCY_SECONDS = 10;
export const CONCURRENCY = 40;
export const DELIVERY_CONCURRENCY = Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 8);
export const FAN_OUT_CONCURRENCY = 2;
/** Direct handler invocations measured for their CPU (after a warm-up). */
export const HANDLER_CPU_EVENTS = 1500;
export const HANDLER_CPU_DELIVERIES = 4000;
/** Fan-out independence: rounds of events to the benchmark's 3 subscribers, before and after the others. */
export const FAN_OUT_EVENTS = 500;
export const FAN_OUT_ROUNDS = 3;
export const UNRELATED_SUBSCRIPTIONS = 10_000;
/**
 * How far the fan-out time per event may move once the unrelated subscriptions are in: 25 %,
 * or 0.1 ms per event when that is larger (timer and scheduling noise on a shared machine).
 */
export const FAN_OUT_TIME_TOLERANCE = { relative: 0.25, absoluteMs: 0.1 };
export const FAN_OUT_REQUEST_TOLERANCE = 0.05;
export const PROJECT = 'bench';
export const TOPIC = 'message.create';

export interface Receipt {
  id: string;
  at: number;
  sentAt: number;
}

/** What the phases share. */
export interface Bench {
  stack: LocalStack;
  events: EventBridgeClient;
  sqs: SQSClient;
  requests: Map<string, number>;
  /** The delivery functions' requests that carried work (idle polls left out), by `service.action`. */
  deliveryRequests: Map<string, number>;
  receipts: Receipt[];
  subscriptionIds: string[];
  /** The receiver's process: told `{ failRate }` for the failing cost shape. */
  receiver: ChildProcess;
}

export function sumOf(counts: Map<string, number>, keys: string[]): number {
  return keys.reduce((total, key) => total + (counts.get(key) ?? 0), 0);
}

export function eventDetail(n: number, sentAt: number): string {
  const detail = { id_project: PROJECT, text: `message ${n}`, sentAt };
  const missing = PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(detail)) - ',"padding":""'.length;
  return JSON.stringify(missing > 0 ? { ...detail, padding: 'x'.repeat(missing) } : detail);
}

export async function publishBatch(events: EventBridgeClient, count: number): Promise<void> {
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
export async function publishMany(events: EventBridgeClient, count: number, inFlight: number): Promise<void> {
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

/** Subscribes `target` to `event` in `project` (the token must own it); returns the subscription id. */
export async function createSubscription(apiUrl: string, token: string, target: string, project: string = PROJECT, event: string = TOPIC): Promise<string> {
  const response = await fetch(`${apiUrl}/${project}/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event, target }),
  });
  if (response.status !== 200) throw new Error(`subscription failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { _id: string })._id;
}

/** A platform token owning one project, signed with the local stack's secret. */
export const ownerToken = (project: string, jwtSecret: string): string => signToken({ sub: 'bench', projects: { [project]: 'owner' } }, jwtSecret);

export function startReceiver(): Promise<{ child: ChildProcess; port: number; receipts: Receipt[] }> {
  const receipts: Receipt[] = [];
  const child = fork(path.join(__dirname, 'receiver-process.mjs'));
  return new Promise((resolve) => {
    child.on('message', (message: { port?: number } | Receipt[]) => {
      if (Array.isArray(message)) receipts.push(...message);
      else if (message.port) resolve({ child, port: message.port, receipts });
    });
  });
}

export async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for deliveries');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Runs one case of a bench script (`<script> --case <index>`) in a fresh process, since handlers
 * keep their SDK clients for a process's life and each local stack needs new ones; the case
 * prints its result as JSON on its last line.
 */
export function runCaseInProcess<T>(script: string, index: number, name: string): T {
  const run = spawnSync(path.join(__dirname, '..', 'node_modules', '.bin', 'tsx'), [script, '--case', String(index)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 10 * 60_000,
  });
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !last.startsWith('{')) throw new Error(`${name} case ${index} failed (exit ${run.status}): ${run.stdout}`);
  return JSON.parse(last) as T;
}

/** Runs a bench script's `main` and exits: 0 when it ends, 1 (the error printed) when it fails. */
export function runScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

