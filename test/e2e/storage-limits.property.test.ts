import fc from 'fast-check';
import { stringifyJson } from '../../lambdas/core/json-text';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { LoggedAttempt, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

/**
 * Client JSON through the storage layer, at DynamoDB's limits: whatever payload the platform
 * publishes (nested thousands deep, thousands of keys wide, numbers DynamoDB cannot hold, or
 * close to 400 KB as a DynamoDB map) reaches the subscriber intact and its attempt is logged;
 * whatever routing payload the API takes for operator.select, the hook's choice wins and the
 * attempt is logged. The local AWS endpoint refuses what DynamoDB refuses, and the harness
 * fails a run in which the fan-out or the delivery throws. (Attempt logs that stored payloads
 * as DynamoDB maps failed the deep and out-of-range cases.)
 */

/** `PROPERTY_RUNS=50 npx jest test/e2e/storage-limits` searches harder than the default run. */
const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 4);
/** Each run is a whole pipeline trip; shrinking would repeat it hundreds of times. */
const RUN_OPTIONS = { numRuns: NUM_RUNS, endOnFailure: true } as const;

let t: TestStack;
let hook: Receiver;
let selectHook: Receiver;
let runs = 0;

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 5000 });
  hook = await startReceiver();
  selectHook = await startReceiver(() => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ operators: [{ id_user: 'chosen-by-hook' }] }),
  }));
});
afterAll(async () => {
  await Promise.all([hook.close(), selectHook.close()]);
  await t.stop();
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Names a generated payload in failure reports, which would otherwise print it whole (megabytes). */
function labelled<T extends object>(value: T, label: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => label, enumerable: false });
  return value;
}

/** An object `depth` levels deep, each level with a sibling, built without recursion. */
const nestedPayload = (minDepth: number, maxDepth: number): fc.Arbitrary<{ deep: Json }> =>
  fc
    .record({
      depth: fc.integer({ min: minDepth, max: maxDepth }),
      key: fc.string({ minLength: 1, maxLength: 4 }),
      leaf: fc.jsonValue({ maxDepth: 1 }),
    })
    .map(({ depth, key, leaf }) => {
      let value = leaf as Json;
      for (let level = 0; level < depth; level++) value = level % 2 === 0 ? { [key]: value, n: level } : [value, level];
      return labelled({ deep: value }, `{deep: …${depth} levels of {${JSON.stringify(key)}: …, n} and [… , n]…}`);
    });

/** Events may nest as deep as their producer likes (up to EventBridge's 256 KB). */
const deepPayload = nestedPayload(30, 3000);
/**
 * The API refuses bodies nested deeper than 32 levels (400 naming the field, README), so a
 * routing payload reaches storage nested at most that deep: around DynamoDB's own 32.
 */
const deepRoutingPayload = nestedPayload(24, 30);

/** Thousands of keys at one level, or a long array of small objects (under EventBridge's 256 KB, quotes escaped). */
const widePayload = fc.oneof(
  fc
    .integer({ min: 1000, max: 8000 })
    .map((width) => labelled({ wide: Object.fromEntries(Array.from({ length: width }, (_, i) => [`k${i}`, i])) }, `{wide: ${width} keys}`)),
  fc.integer({ min: 1000, max: 8000 }).map((width) => labelled({ rows: Array.from({ length: width }, (_, i) => ({ i })) }, `{rows: ${width} × {i}}`)),
);

/** JSON numbers a JavaScript client sends freely but DynamoDB cannot store (beyond ±1E126, under 1E-130). */
const hugeNumberPayload = fc
  .oneof(fc.double({ min: 1e126, max: 1e308, noNaN: true }), fc.double({ min: 5e-324, max: 1e-131, noNaN: true }))
  .chain((magnitude) => fc.record({ amount: fc.constantFrom(magnitude, -magnitude), nested: fc.constant({ list: [1, magnitude, 'x'] }) }));

/**
 * A payload under the 256 KB that EventBridge and the API take which DynamoDB stores in close
 * to 400 KB: each `0,` of a JSON array costs 2 bytes in JSON, 3 as a list element (1 for the
 * element, 2 for the number).
 */
const nearItemLimitPayload = fc
  .integer({ min: 110_000, max: 125_000 })
  .map((count) => labelled({ zeros: new Array<number>(count).fill(0) }, `{zeros: ${count} × 0}`));

async function deliveredAndLogged(projectId: string, subscriptionId: string, payload: Record<string, unknown>): Promise<void> {
  const before = hook.received.length;
  const detail = { ...payload, id_project: projectId };
  await publish(t, [{ type: 'lead.create', detail }]);
  const deliveries = await waitUntil(() => hook.received.slice(before).filter((request) => request.body.includes(`"id_project":"${projectId}"`)));
  // Compared as JSON text, written without recursion as the service writes it: a structural
  // comparison, or V8's own stringify under jest's and fast-check's frames, overflows the stack
  // at 3,000 levels (it did on CI).
  const received = stringifyJson((JSON.parse(deliveries[0]!.body) as { payload: unknown }).payload);
  expect(received === stringifyJson(detail) ? 'intact' : `changed: ${received.slice(0, 300)}…`).toBe('intact');
  const logs = await waitUntil(async () => (await logsOf(t, projectId, subscriptionId)).filter((log: LoggedAttempt) => log.outcome === 'delivered'));
  expect(logs).toHaveLength(1);
}

/**
 * Polls `found` until it returns a non-empty list; fails at once, naming them, when the fan-out
 * or the delivery throws meanwhile (the harness would fail the test after it anyway).
 */
async function waitUntil<T>(found: () => T[] | Promise<T[]>, timeoutMs = 20_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    t.checkHandlerErrors();
    const items = await found();
    if (items.length > 0) return items;
    if (Date.now() > deadline) throw new Error(`nothing within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('publish → fan-out → delivery → attempt log', () => {
  test.each([
    ['nested up to 3,000 levels', deepPayload],
    ['thousands of keys wide', widePayload],
    ['numbers beyond DynamoDB range', hugeNumberPayload],
    ['that would take close to 400 KB as a DynamoDB map', nearItemLimitPayload],
  ] as const)('a payload %s is delivered intact and logged', async (_name, payloads) => {
    await fc.assert(
      fc.asyncProperty(payloads as fc.Arbitrary<Record<string, unknown>>, async (payload) => {
        const projectId = `proj-limits-${++runs}`;
        const subscription = await subscribe(t, projectId, 'lead.create', hook.url);
        await deliveredAndLogged(projectId, subscription._id, payload);
      }),
      RUN_OPTIONS,
    );
  });
});

describe('operator.select → attempt log', () => {
  const routing = (projectId: string, extra: Record<string, unknown>) => ({
    ...extra,
    id_project: projectId,
    operators: [{ id_user: 'suggested' }],
    agents: [{ id_user: 'suggested' }, { id_user: 'chosen-by-hook' }],
    department: { _id: 'd1', name: 'Sales' },
  });

  test.each([
    ['nested up to the API\'s 32 levels', deepRoutingPayload],
    ['thousands of keys wide', widePayload],
    ['numbers beyond DynamoDB range', hugeNumberPayload],
    ['that would take close to 400 KB as a DynamoDB map', nearItemLimitPayload],
  ] as const)('a routing payload %s: the hook chooses and the attempt is logged', async (_name, extras) => {
    await fc.assert(
      fc.asyncProperty(extras as fc.Arbitrary<Record<string, unknown>>, async (extra) => {
        const projectId = `proj-select-limits-${++runs}`;
        const subscription = await subscribe(t, projectId, 'operator.select', selectHook.url);
        const reply = await t.api('POST', `/${projectId}/operator-select`, { token: t.platformToken(), body: routing(projectId, extra) });
        expect(reply.status).toBe(200);
        expect(reply.body.operators).toEqual([{ id_user: 'chosen-by-hook' }]);
        const logs = await logsOf(t, projectId, subscription._id);
        expect(logs.map((log) => log.outcome)).toEqual(['delivered']);
      }),
      RUN_OPTIONS,
    );
  });
});
