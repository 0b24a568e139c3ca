// A delivery engine that survives bad endpoints and bad payloads: attempt numbers that do not
// jump when an invocation crashes, payloads DynamoDB could not store as a map delivered and
// logged once without hurting the rest of their PutEvents, a circuit that opens on a failing
// subscriber and can be reset, and a hanging subscriber moved to the slow lane.
import { stringifyJson } from '../../lambdas/core/json-text';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
const receivers: Receiver[] = [];
/** The delivery function's seams, loaded once the stack has set its environment. */
let deliveryDeps: (typeof import('../../lambdas/handlers/delivery'))['deliveryDeps'];

beforeAll(async () => {
  t = await startTestStack({
    // The test swaps deliveryDeps in this process: the functions run here too.
    functionThread: false,
    retrySchedule: [1, 1, 1],
    deliveryVisibilityTimeoutSeconds: 8,
    // Lambda requires the queue's visibility timeout ≥ the function timeout: both are shortened.
    deliveryFunctionTimeoutSeconds: 8,
    deliveryTimeoutMs: 4000,
  });
  ({ deliveryDeps } = await import('../../lambdas/handlers/delivery'));
});

afterAll(async () => {
  await t?.stop();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

async function receiver(reply: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

const owner = (projectId: string): string => t.tokenFor({ [projectId]: 'owner' });

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
}

it('numbers attempts 1, 2, 3… even when an invocation crashes after its POSTs', async () => {
  const projectId = 'p-crash';
  const hook = await receiver(() => ({ status: 500 }));
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  const writeAttempts = deliveryDeps.writeAttempts;
  let crashed = false;
  // The crash is the point of the test: the harness accepts exactly this invocation error.
  const declared = t.expectHandlerErrors(/injected crash before the attempt logs were written/);
  deliveryDeps.writeAttempts = async (attempts) => {
    if (!crashed && attempts.some((attempt) => attempt.subscriptionId === _id)) {
      crashed = true;
      throw new Error('injected crash before the attempt logs were written');
    }
    return writeAttempts(attempts);
  };
  try {
    await publish(t, [{ type: 'request.create', detail: { id_project: projectId } }]);
    const logs = await eventually(async () => {
      const found = await logsOf(t, projectId, _id);
      expect(found.at(-1)?.outcome).toBe('dead');
      return found;
    }, 40_000);
    expect(crashed).toBe(true);
    expect(declared.errors).toHaveLength(1);
    // The crashed invocation's POST went out unlogged; the message came back as attempt 1 again.
    expect(logs.map((attempt) => attempt.attempt)).toEqual([1, 2, 3, 4]);
    expect(hook.received).toHaveLength(5);
    expect(new Set(hook.received.map((request) => request.headers['webhook-id'])).size).toBe(1);
  } finally {
    deliveryDeps.writeAttempts = writeAttempts;
  }
});

it('delivers and logs once a 3,000-level payload and one with a number DynamoDB cannot store, and the rest of their PutEvents', async () => {
  const [p1, p2] = ['p-poison', 'p-neighbour'];
  const hook = await receiver(() => ({ status: 200 }));
  const neighbourHook = await receiver(() => ({ status: 200 }));
  const { _id } = await subscribe(t, p1, 'request.create', hook.url);
  const neighbour = await subscribe(t, p2, 'request.create', neighbourHook.url);
  const deep = { id_project: p1, kind: 'deep', nested: nested(3000) };
  const huge = JSON.parse(`{"id_project":"${p1}","kind":"huge","value":1e200,"tiny":1e-200}`) as Record<string, unknown>;
  await publish(t, [
    { type: 'request.create', detail: deep },
    { type: 'request.create', detail: huge },
    { type: 'request.create', detail: { id_project: p1, kind: 'plain' } },
    { type: 'request.create', detail: { id_project: p2, kind: 'neighbour' } },
  ]);
  await hook.waitFor(3, 30_000);
  await neighbourHook.waitFor(1, 30_000);
  // Barrier: an event published after these arrives, so any duplicate would have too.
  await publish(t, [{ type: 'request.create', detail: { id_project: p2, kind: 'sentinel' } }]);
  await neighbourHook.waitFor(2, 30_000);
  expect(hook.received).toHaveLength(3);
  const kinds = hook.received.map((request) => (JSON.parse(request.body) as { payload: { kind: string } }).payload.kind).sort();
  expect(kinds).toEqual(['deep', 'huge', 'plain']);
  const deepBody = hook.received.find((request) => request.body.includes('"kind":"deep"'))!.body;
  expect(deepBody).toContain(JSON.stringify(deep));

  const logs = await eventually(async () => {
    const found = await logsOf(t, p1, _id);
    expect(found).toHaveLength(3);
    return found;
  });
  expect(logs.map((attempt) => attempt.outcome)).toEqual(['delivered', 'delivered', 'delivered']);
  const reply = await t.api('GET', `/${p1}/subscriptions/${_id}/logs`, { token: owner(p1) });
  expect(reply.status).toBe(200);
  const payloads = (reply.body.items as { payload: Record<string, unknown> }[]).map((item) => item.payload);
  // Compared as JSON text: jest's deep equality recurses, and 3,000 levels can overflow its stack
  // when its frames are not yet optimized (it failed so once under load).
  const texts = payloads.map((payload) => stringifyJson(payload));
  expect(texts).toContain(stringifyJson(deep));
  expect(texts).toContain(stringifyJson(huge));
  expect(await logsOf(t, p2, neighbour._id)).toHaveLength(2);
});

it('opens the circuit of a subscriber that keeps failing, shows it and what it holds, and a reset releases them at once', async () => {
  const projectId = 'p-circuit';
  let healthy = false;
  const hook = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  await publish(
    t,
    Array.from({ length: 3 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n } })),
  );
  // Open, and holding what is left to retry: the API counts the held deliveries and says when they go.
  type Health = { consecutiveFailures: number; openUntil: string; held?: { reason: string; count: number; until?: string }[] };
  const subscription = await eventually(async () => {
    const reply = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token: owner(projectId) });
    expect(reply.body.health).toMatchObject({ circuit: 'open', lane: 'fast', held: [expect.objectContaining({ reason: 'circuit-open' })] });
    return reply.body as { health: Health };
  }, 30_000);
  expect(subscription.health.consecutiveFailures).toBeGreaterThanOrEqual(5);
  expect(Date.parse(subscription.health.openUntil)).toBeGreaterThan(Date.now());
  const held = subscription.health.held![0]!;
  expect(held.count).toBeGreaterThanOrEqual(1);
  expect(held.until).toBe(subscription.health.openUntil);
  // While open, nothing is POSTed and no attempt is spent: every POST so far is logged.
  const posted = hook.received.length;
  expect((await logsOf(t, projectId, _id)).length).toBe(posted);

  healthy = true;
  const resetAt = Date.now();
  const reset = await t.api('DELETE', `/${projectId}/subscriptions/${_id}/health`, { token: owner(projectId) });
  expect(reset.status).toBe(200);
  expect(reset.body.health).toMatchObject({ circuit: 'closed', consecutiveFailures: 0, lane: 'fast' });
  // The held deliveries are released at once, not at the end of the cool-down (30 s).
  const logs = await eventually(async () => {
    const found = await logsOf(t, projectId, _id);
    expect(found.filter((attempt) => attempt.outcome === 'delivered')).toHaveLength(3 - found.filter((a) => a.outcome === 'dead').length);
    return found;
  }, 60_000);
  expect(logs.filter((attempt) => attempt.outcome === 'delivered').length).toBeGreaterThan(0);
  expect(Date.now() - resetAt).toBeLessThan(15_000);
  const after = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token: owner(projectId) });
  expect(after.body.health).not.toHaveProperty('held');
}, 90_000);

it('moves a subscriber that does not answer in time to the slow lane, trying the delivery again at once there', async () => {
  const [slowProject, fastProject] = ['p-hanging', 'p-healthy'];
  const hanging = await receiver(() => ({ hang: true }));
  const healthyHook = await receiver(() => ({ status: 200 }));
  const { _id } = await subscribe(t, slowProject, 'request.create', hanging.url);
  await subscribe(t, fastProject, 'request.create', healthyHook.url);
  await publish(t, [{ type: 'request.create', detail: { id_project: slowProject } }]);
  const logs = await eventually(async () => {
    const found = await logsOf(t, slowProject, _id);
    expect(found.length).toBeGreaterThanOrEqual(2);
    return found;
  }, 30_000);
  expect(logs[0]).toMatchObject({ attempt: 1, outcome: 'failed', errorKind: 'timeout' });
  expect(logs[0]!.error).toMatch(/slow lane/);
  expect(logs[1]).toMatchObject({ attempt: 2, errorKind: 'timeout' });
  expect(logs[1]!.durationMs).toBeGreaterThan(logs[0]!.durationMs);
  const reply = await t.api('GET', `/${slowProject}/subscriptions/${_id}`, { token: owner(slowProject) });
  expect(reply.body.health).toMatchObject({ lane: 'slow' });
  await publish(t, [{ type: 'request.create', detail: { id_project: fastProject } }]);
  await healthyHook.waitFor(1, 10_000);
}, 60_000);
