import { SUBSCRIPTIONS_FUNCTION } from '../../lambdas/core/settings';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { logsOf, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let slowTarget: Receiver;

beforeAll(async () => {
  // The deployed defaults: a 10 s delivery timeout inside a 10 s subscriptions function.
  t = await startTestStack();
  slowTarget = await startReceiver(() => ({ hang: true }));
});
afterAll(async () => {
  await slowTarget.close();
  await t.stop();
});

test("a slow target's test ping answers 200 with a logged, timed-out attempt, not a 5xx", async () => {
  const project = 'proj-slow-ping';
  const created = await subscribe(t, project, 'request.create', slowTarget.url);
  const reply = await t.api('POST', `/${project}/subscriptions/${created._id}/test`, { token: t.tokenFor({ [project]: 'owner' }) });

  expect(reply.status).toBe(200);
  expect(reply.body).toMatchObject({
    outcome: 'failed',
    errorKind: 'timeout',
    error: `timeout after ${SUBSCRIPTIONS_FUNCTION.testPingTimeoutMs} ms`,
  });
  expect(slowTarget.received).toHaveLength(1);
  const logs = await logsOf(t, project, created._id);
  expect(logs).toHaveLength(1);
  expect(logs[0]).toMatchObject({ outcome: 'failed', errorKind: 'timeout', webhookId: reply.body.webhookId });
});
