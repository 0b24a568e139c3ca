// The circuit's first cool-down is a stack prop (`circuitCooldownSeconds`, 30 s by default): set
// through the template to the delivery functions, it decides when the probe goes, and once the
// probe succeeds the deliveries the circuit held follow.
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

const COOLDOWN_SECONDS = 2;
let t: TestStack;
let hook: Receiver | undefined;

beforeAll(async () => {
  t = await startTestStack({ circuitCooldownSeconds: COOLDOWN_SECONDS, retrySchedule: [1, 1, 1, 1, 1, 1, 1, 1] });
});

afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

it(`probes after the configured ${COOLDOWN_SECONDS} s cool-down, and then delivers what the circuit held`, async () => {
  const projectId = 'p-cooldown';
  let healthy = false;
  hook = await startReceiver(() => (healthy ? { status: 200 } : { status: 500 }));
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  await publish(
    t,
    Array.from({ length: 6 }, (_, n) => ({ type: 'request.create', detail: { id_project: projectId, n } })),
  );
  const owner = t.tokenFor({ [projectId]: 'owner' });
  const open = await eventually(async () => {
    const reply = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token: owner });
    expect(reply.body.health).toMatchObject({ circuit: 'open' });
    return reply.body.health as { openUntil: string };
  }, 30_000);
  // The cool-down the function applied is the configured one, not the default 30 s.
  expect(Date.parse(open.openUntil) - Date.now()).toBeLessThanOrEqual(COOLDOWN_SECONDS * 1000);
  healthy = true;
  const openedAt = Date.now();
  await eventually(async () => {
    const delivered = (await logsOf(t, projectId, _id)).filter((attempt) => attempt.outcome === 'delivered');
    expect(delivered).toHaveLength(6);
  }, 25_000);
  expect(Date.now() - openedAt).toBeLessThan(20_000);
  const after = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token: owner });
  expect(after.body.health).toMatchObject({ circuit: 'closed' });
}, 60_000);
