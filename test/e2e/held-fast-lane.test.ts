// Receivers that hold every fast-lane poller do not hold other projects' deliveries: a held
// invocation takes the lane's next messages itself (docs/design.md §3.2, "A held invocation
// works its queue"). The fast lane is capped at the five batches Lambda starts an SQS event
// source with, so no poller can be added while the five are held.
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

const POLLERS = 5;

let t: TestStack;
let healthy: Receiver;
let hanging: Server;
/** When each hanging request arrived, and when its connection was closed (by delivery's deadline). */
const held: { arrivedAt: number; closedAt?: number }[] = [];

beforeAll(async () => {
  t = await startTestStack({
    deliveryConcurrency: POLLERS,
    // Long deadlines keep the five pollers held while the test publishes one event after another.
    environment: { FAST_LANE_ANSWER_MS: '3000', FAST_LANE_TIMEOUT_MS: '4000' },
  });
  healthy = await startReceiver();
  hanging = createServer((req) => {
    const request: (typeof held)[number] = { arrivedAt: Date.now() };
    held.push(request);
    req.socket.once('close', () => (request.closedAt = Date.now()));
    req.resume();
  });
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', () => resolve()));
});

afterAll(async () => {
  await t?.stop();
  await healthy?.close();
  hanging?.closeAllConnections();
  await new Promise((resolve) => hanging?.close(resolve));
});

it('delivers another project’s event while hanging receivers hold every fast-lane poller', async () => {
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
  for (let n = 0; n < POLLERS; n++) await subscribe(t, `p-hang-${n}`, 'request.create', hangingUrl);
  await subscribe(t, 'p-healthy', 'request.create', healthy.url);

  // One at a time, each once the last is held: each a batch of its own, so each holds a poller.
  for (let n = 0; n < POLLERS; n++) {
    await publish(t, [{ type: 'request.create', detail: { id_project: `p-hang-${n}` } }]);
    await eventually(() => expect(held).toHaveLength(n + 1), 10_000, 10);
  }
  await publish(t, [{ type: 'request.create', detail: { id_project: 'p-healthy' } }]);
  const [receipt] = await healthy.waitFor(1, 10_000);

  // Every hanging request was still open when the healthy delivery arrived.
  const fastLaneRequests = held.slice(0, POLLERS);
  await eventually(() => expect(fastLaneRequests.every((request) => request.closedAt !== undefined)).toBe(true), 15_000);
  expect(fastLaneRequests.every((request) => request.closedAt! > receipt!.at)).toBe(true);
  // The held invocation deleted what it delivered: it does not come again.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect(healthy.received).toHaveLength(1);
}, 60_000);
