import { TestStack, startTestStack } from '../support/local-stack-harness';
import { subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

// The HTTP route is covered by operator-select.test.ts; this file covers the direct Lambda
// Invoke a platform inside AWS uses, with the routing payload itself as the event.
let t: TestStack;
let hook: Receiver;

beforeAll(async () => {
  t = await startTestStack({ operatorSelectTimeoutMs: 1000 });
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
