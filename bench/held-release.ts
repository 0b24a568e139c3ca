/**
 * `npm run bench:held`: how fast a backlog held by an open circuit arrives once the subscriber
 * has recovered. One subscriber answers 500 to everything for its first FAIL_SECONDS, so its
 * circuit opens and the deliveries behind it are parked (docs/design.md §3.19), then 200. It
 * prints when the first delivery succeeded (the probe, at the end of the 30 s cool-down), how
 * long the rest of the backlog took to arrive after it, and the most it received in any second,
 * which is what the recovered endpoint had to take. Traffic stays on loopback.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { startLocalStack } from '../local/local-stack';
import { createSubscription, ownerToken, publishMany, runScript, waitFor } from './bench-context';

const EVENTS = Number(process.env.BENCH_HELD_EVENTS ?? 1500);
const FAIL_SECONDS = 3;

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const jwtSecret = 'bench-held-secret';
  const stack = await startLocalStack({ port: 0, awsPort: 0, jwtSecret });
  let failUntil = Infinity;
  const delivered = new Map<string, number>();
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const now = Date.now();
      if (now < failUntil) return void res.writeHead(500).end();
      const id = String(req.headers['webhook-id']);
      if (!delivered.has(id)) delivered.set(id, now);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = receiver.address() as AddressInfo;
    await createSubscription(stack.apiUrl, ownerToken('bench', jwtSecret), `http://127.0.0.1:${port}/held`);
    const started = Date.now();
    failUntil = started + FAIL_SECONDS * 1000;
    await publishMany(new EventBridgeClient({}), EVENTS, 10);
    const published = (Date.now() - started) / 1000;
    await waitFor(() => delivered.size >= EVENTS, 900_000, 200);
    const times = [...delivered.values()].sort((a, b) => a - b);
    const first = times[0]!;
    const last = times.at(-1)!;
    const perSecond = new Map<number, number>();
    for (const at of times) perSecond.set(Math.floor((at - first) / 1000), (perSecond.get(Math.floor((at - first) / 1000)) ?? 0) + 1);
    console.log(`${EVENTS} events published in ${published.toFixed(1)} s to a subscriber failing for its first ${FAIL_SECONDS} s`);
    console.log(`  first delivery (the probe)    ${((first - started) / 1000).toFixed(1)} s after publishing began`);
    console.log(`  the rest arrived within       ${((last - first) / 1000).toFixed(1)} s of it`);
    console.log(`  most in any second            ${Math.max(...perSecond.values())}`);
  } finally {
    receiver.close();
    await stack.stop();
  }
}

runScript(main);
