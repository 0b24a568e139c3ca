import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

/**
 * The harness itself: an invocation of the in-process fan-out or delivery that throws must fail
 * the test it happened in, unless the test declared it. The seams are broken on purpose here;
 * `checkHandlerErrors()` is what the harness's afterEach hook runs.
 */
let t: TestStack;
let hook: Receiver;
let deliveryDeps: typeof import('../../lambdas/handlers/delivery').deliveryDeps;
let fanOutDeps: typeof import('../../lambdas/handlers/fan-out').fanOutDeps;

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 1000, functionThread: false });
  hook = await startReceiver();
  // The very module instances the local stack runs (same jest module registry).
  ({ deliveryDeps } = await import('../../lambdas/handlers/delivery'));
  ({ fanOutDeps } = await import('../../lambdas/handlers/fan-out'));
});
afterAll(async () => {
  await hook.close();
  await t.stop();
});

/** Runs `body` with the delivery's attempt-log write throwing `message`. */
async function withBrokenAttemptLog(message: string, body: () => Promise<void>): Promise<void> {
  const original = deliveryDeps.writeAttempts;
  deliveryDeps.writeAttempts = () => Promise.reject(new Error(message));
  try {
    await body();
  } finally {
    deliveryDeps.writeAttempts = original;
  }
}

test('an undeclared delivery invocation error makes the harness check throw, naming it', async () => {
  await subscribe(t, 'proj-harness-1', 'lead.create', hook.url);
  await withBrokenAttemptLog('writeAttempts broken on purpose (1)', async () => {
    await publish(t, [{ type: 'lead.create', detail: { id_project: 'proj-harness-1' } }]);
    await eventually(() =>
      expect(() => t.checkHandlerErrors()).toThrow(/did not declare with expectHandlerErrors[\s\S]*writeAttempts broken on purpose \(1\)/),
    );
  });
});

test('a declared fan-out invocation error passes and is visible to the test', async () => {
  await subscribe(t, 'proj-harness-2', 'lead.create', hook.url);
  const declared = t.expectHandlerErrors(/enqueue broken on purpose/);
  const original = fanOutDeps.enqueue;
  fanOutDeps.enqueue = () => Promise.reject(new Error('enqueue broken on purpose'));
  try {
    await publish(t, [{ type: 'lead.create', detail: { id_project: 'proj-harness-2' } }]);
    await eventually(() => expect(declared.errors.length).toBeGreaterThan(0));
  } finally {
    fanOutDeps.enqueue = original;
  }
  expect(String(declared.errors[0])).toContain('enqueue broken on purpose');
  // The check finds nothing undeclared, so the harness's afterEach passes this test.
  expect(() => t.checkHandlerErrors()).not.toThrow();
});

test('an error other than the declared one still fails the test', async () => {
  await subscribe(t, 'proj-harness-3', 'lead.create', hook.url);
  const declared = t.expectHandlerErrors(/something else entirely/);
  await withBrokenAttemptLog('writeAttempts broken on purpose (3)', async () => {
    await publish(t, [{ type: 'lead.create', detail: { id_project: 'proj-harness-3' } }]);
    await eventually(() => expect(() => t.checkHandlerErrors()).toThrow(/writeAttempts broken on purpose \(3\)/));
  });
  expect(declared.errors).toHaveLength(0);
});

test('a declaration lasts only for its own test', async () => {
  // The previous test declared /something else entirely/; this one declares nothing.
  await subscribe(t, 'proj-harness-4', 'lead.create', hook.url);
  await withBrokenAttemptLog('something else entirely', async () => {
    await publish(t, [{ type: 'lead.create', detail: { id_project: 'proj-harness-4' } }]);
    await eventually(() => expect(() => t.checkHandlerErrors()).toThrow(/something else entirely/));
  });
});
