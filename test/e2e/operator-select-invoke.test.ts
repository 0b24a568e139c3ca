import { TestStack, startTestStack } from '../support/local-stack-harness';
import { subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

// The HTTP route is covered by operator-select.test.ts; this file covers the direct Lambda
// Invoke a platform inside AWS uses, with the routing payload itself as the event.
let t: TestStack;
let hook: Receiver;

beforeAll(async () => {
  // Each test's project calls at most twice, within a burst of 3: only the limit's own test passes it.
  t = await startTestStack({ operatorSelectTimeoutMs: 1000, environment: { PROJECT_EVENTS_LIMIT: '1,3' } });
  hook = await startReceiver(() => ({ status: 200, body: JSON.stringify({ operators: [{ id_user: 'u9' }] }) }));
});
afterAll(async () => {
  await hook.close();
  await t.stop();
});

const routing = {
  id_project: 'os-invoke',
  operators: [{ id_user: 'u1' }],
  agents: [{ id_user: 'u1' }, { id_user: 'u9' }],
  department: { _id: 'd1', name: 'Sales' },
};

test('a direct invoke answers the routing result chosen by the hook', async () => {
  await subscribe(t, 'os-invoke', 'operator.select', hook.url);
  const { operatorSelect } = await import('../../lambdas/handlers/operator-select');
  const result = await operatorSelect(routing);
  expect(result).toEqual({ ...routing, operators: [{ id_user: 'u9' }] });
  expect(hook.received).toHaveLength(1);
});

test('a direct invoke without a hook answers the default routing', async () => {
  const { operatorSelect } = await import('../../lambdas/handlers/operator-select');
  const result = await operatorSelect({ ...routing, id_project: 'os-invoke-none' });
  expect(result).toEqual({ ...routing, id_project: 'os-invoke-none' });
});

test('a direct invoke with a payload nested 10,000 levels is refused naming the field, before the hook is called', async () => {
  const { operatorSelect } = await import('../../lambdas/handlers/operator-select');
  const { MAX_BODY_DEPTH } = await import('../../lambdas/handlers/http-response');
  const { ValidationError } = await import('../../lambdas/core/errors');
  const received = hook.received.length;
  const context: unknown = JSON.parse('['.repeat(10_000) + ']'.repeat(10_000));
  const refusal = operatorSelect({ ...routing, context });
  await expect(refusal).rejects.toThrow(ValidationError);
  await expect(refusal).rejects.toMatchObject({ errors: [{ field: 'context', message: `nested deeper than ${MAX_BODY_DEPTH} levels` }] });
  expect(hook.received).toHaveLength(received);
});

test("a direct invoke counts against the project's operator.select share like the HTTP route: past it, the default routing without the hook", async () => {
  const projectId = 'os-invoke-limited';
  const limitedHook = await startReceiver(() => ({ status: 200, body: JSON.stringify({ operators: [{ id_user: 'u9' }] }) }));
  try {
    await subscribe(t, projectId, 'operator.select', limitedHook.url);
    const { operatorSelect } = await import('../../lambdas/handlers/operator-select');
    const results = [];
    for (let n = 0; n < 5; n++) results.push(await operatorSelect({ ...routing, id_project: projectId }));
    const chosen = results.map((result) => (result as { operators: { id_user: string }[] }).operators[0]!.id_user);
    // The burst (3) asks the hook; then the request's own operators, and the hook is spared.
    expect(chosen).toEqual(['u9', 'u9', 'u9', 'u1', 'u1']);
    expect(limitedHook.received).toHaveLength(3);
  } finally {
    await limitedHook.close();
  }
});
