/**
 * `npx tsx bench/calls-per-event.ts`: the AWS requests the local stack makes per event, by
 * service, action and caller, for one project with one healthy subscriber publishing at a steady
 * pace (BENCH_CALLS_RATE events/s, default 5, for 10 s; counted from the first publish to 2 s
 * after the last). Empty receives are counted apart. A fresh stack in this process; the receiver
 * and the publisher run in processes of their own; traffic stays on loopback.
 * BENCH_CALLS_PATH=/reset (any path of bench/hostile-receiver.mjs) counts for a misbehaving
 * subscriber instead.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { startLocalStack } from '../local/local-stack';
import { createSubscription, ownerToken } from './bench-context';
import { Publisher } from './publisher';

const RATE = Number(process.env.BENCH_CALLS_RATE ?? 5);
const SECONDS = 10;
const HOSTILE_PATH = process.env.BENCH_CALLS_PATH;

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const jwtSecret = 'bench-calls-secret';
  const counts = new Map<string, number>();
  let counting = false;
  const stack = await startLocalStack({
    port: 0,
    awsPort: 0,
    jwtSecret,
    onAwsRequest: (service, action, { caller, empty }) => {
      if (!counting) return;
      const key = `${service}.${action} ${caller ?? '?'}${empty ? ' (empty)' : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
  });
  const receiver = fork(path.join(__dirname, 'hostile-receiver.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<{ healthyPort: number; hostilePort: number; paths: string[] }>((resolve) =>
    receiver.on('message', (message: { healthyPort?: number; hostilePort?: number; paths?: string[] }) => {
      if (message.healthyPort && message.hostilePort && message.paths) resolve({ healthyPort: message.healthyPort, hostilePort: message.hostilePort, paths: message.paths });
    }),
  );
  if (HOSTILE_PATH && !ports.paths.includes(HOSTILE_PATH)) throw new Error(`BENCH_CALLS_PATH must be one of ${ports.paths.join(', ')}`);
  const target = HOSTILE_PATH ? `http://127.0.0.1:${ports.hostilePort}${HOSTILE_PATH}` : `http://127.0.0.1:${ports.healthyPort}/healthy`;
  const publisher = await Publisher.start(stack.awsEndpoint, stack.busName);
  try {
    await createSubscription(stack.apiUrl, ownerToken('calls', jwtSecret), target, 'calls', 'request.create');
    counting = true;
    const [sent = 0] = await publisher.pace(SECONDS * 1000, [{ project: 'calls', every: 1000 / RATE }]);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    counting = false;
    let total = 0;
    console.log('requests  per event  service.action caller');
    for (const [key, count] of [...counts].sort((a, b) => b[1] - a[1])) {
      total += count;
      console.log(String(count).padStart(8), (count / sent).toFixed(2).padStart(10), '', key);
    }
    console.log(`${sent} events at ${RATE}/s: ${total} AWS requests, ${(total / sent).toFixed(2)} per event`);
  } finally {
    publisher.stop();
    receiver.kill();
    await stack.stop();
  }
}

void main();
