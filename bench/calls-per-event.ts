/**
 * `npx tsx bench/calls-per-event.ts`: the AWS requests the local stack makes per event, by
 * service, action and caller, for one project with one healthy subscriber publishing at a steady
 * pace (BENCH_CALLS_RATE events/s, default 5, for 10 s; counted from the first publish to 2 s
 * after the last). Empty receives are counted apart. A fresh stack in this process; the receiver
 * and the publisher run in processes of their own; traffic stays on loopback.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { startLocalStack } from '../local/local-stack';
import { createSubscription, ownerToken } from './bench-context';
import { Publisher } from './publisher';

const RATE = Number(process.env.BENCH_CALLS_RATE ?? 5);
const SECONDS = 10;

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
  const healthyPort = await new Promise<number>((resolve) =>
    receiver.on('message', (message: { healthyPort?: number }) => message.healthyPort && resolve(message.healthyPort)),
  );
  const publisher = await Publisher.start(stack.awsEndpoint, stack.busName);
  try {
    await createSubscription(stack.apiUrl, ownerToken('calls', jwtSecret), `http://127.0.0.1:${healthyPort}/healthy`, 'calls', 'request.create');
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
