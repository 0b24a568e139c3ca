/**
 * The bench's throughput phase alone, small enough to profile: EVENTS events (default 4,000)
 * × 3 subscriptions through the local stack to the bench receiver; prints deliveries/s and this
 * process's CPU per delivery. Profile with
 * `node --cpu-prof --cpu-prof-dir=profiles --import tsx bench/throughput-loop.ts`.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { signToken } from '../lambdas/core/token';
import { startLocalStack } from '../local/local-stack';
import { runScript } from './bench-context';

const EVENTS = Number(process.env.EVENTS ?? 4000);
const SUBSCRIPTIONS = 3;

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const stack = await startLocalStack({ port: 0, awsPort: 0, jwtSecret: 'loop', deliveryConcurrency: 8, fanOutConcurrency: 2 });
  const receiver = fork(path.join(__dirname, 'receiver-process.mjs'));
  let received = 0;
  const port = await new Promise<number>((resolve) =>
    receiver.on('message', (message: { port?: number } | unknown[]) => {
      if (Array.isArray(message)) received += message.length;
      else if (message.port) resolve(message.port);
    }),
  );
  try {
    const token = signToken({ sub: 'loop', projects: { bench: 'owner' } }, 'loop');
    for (let n = 0; n < SUBSCRIPTIONS; n++) {
      const response = await fetch(`${stack.apiUrl}/bench/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'message.create', target: `http://127.0.0.1:${port}/hook/${n}` }),
      });
      if (response.status !== 200) throw new Error(`subscription failed: ${response.status}`);
    }
    const events = new EventBridgeClient({});
    const started = Date.now();
    const cpuBefore = process.cpuUsage();
    for (let sent = 0; sent < EVENTS; sent += 10) {
      await events.send(
        new PutEventsCommand({
          Entries: Array.from({ length: 10 }, (_, n) => ({
            EventBusName: stack.busName,
            Source: 'tiledesk',
            DetailType: 'message.create',
            Detail: JSON.stringify({ id_project: 'bench', text: `message ${sent + n}`, sentAt: Date.now() }),
          })),
        }),
      );
    }
    while (received < EVENTS * SUBSCRIPTIONS) await new Promise((resolve) => setTimeout(resolve, 20));
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const deliveries = EVENTS * SUBSCRIPTIONS;
    console.log(
      `${deliveries} deliveries in ${seconds.toFixed(1)} s: ${(deliveries / seconds).toFixed(0)} deliveries/s, ` +
        `${((cpu.user + cpu.system) / 1000 / deliveries).toFixed(2)} ms CPU per delivery in this process`,
    );
  } finally {
    receiver.kill();
    await stack.stop();
  }
}

runScript(main);
