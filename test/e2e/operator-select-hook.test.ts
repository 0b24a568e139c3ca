import { Webhook } from 'standardwebhooks';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, subscribe } from '../support/pipeline';
import { Receiver, Reply, startReceiver } from '../support/receiver';

const TIMEOUT_MS = 1000;
let t: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({ operatorSelectTimeoutMs: TIMEOUT_MS });
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

async function hookFor(projectId: string, reply: () => Reply): Promise<{ receiver: Receiver; secret: string; id: string }> {
  const receiver = await startReceiver(reply);
  receivers.push(receiver);
  const created = await subscribe(t, projectId, 'operator.select', receiver.url);
  return { receiver, secret: created.secret, id: created._id };
}

const routing = (projectId: string) => ({
  id_project: projectId,
  operators: [{ id_user: 'u1' }],
  agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
  available_agents: [{ id_user: 'u2' }],
  department: { _id: 'd1', name: 'Sales' },
  context: { request: { request_id: 'support-group-1' } },
});

async function select(projectId: string, body: unknown = routing(projectId)) {
  const started = Date.now();
  const reply = await t.api('POST', `/${projectId}/operator-select`, { token: t.platformToken(), body });
  return { ...reply, elapsed: Date.now() - started };
}

describe('operator.select', () => {
  test('a hook that picks an agent wins; department and agents come from the request', async () => {
    const hook = await hookFor('os-pick', () => ({ status: 200, body: JSON.stringify({ operators: [{ id_user: 'u2' }] }) }));
    const reply = await select('os-pick');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-operator-select-path')).toBe('hook');
    expect(reply.body).toMatchObject({
      operators: [{ id_user: 'u2' }],
      department: { _id: 'd1', name: 'Sales' },
      agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
    });
    const [request] = await hook.receiver.waitFor(1);
    const headers = Object.fromEntries(Object.entries(request!.headers).map(([name, value]) => [name, String(value)]));
    const verified = new Webhook(hook.secret).verify(request!.body, headers) as { payload: unknown };
    expect(verified.payload).toEqual(routing('os-pick'));
    const logs = await eventually(async () => {
      const found = await logsOf(t, 'os-pick', hook.id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(logs[0]).toMatchObject({ outcome: 'delivered', statusCode: 200 });
  });

  test.each<[string, () => Reply]>([
    ['times out', () => ({ hang: true })],
    ['answers garbage', () => ({ status: 200, body: 'not json' })],
    ['answers no operators', () => ({ status: 200, body: JSON.stringify({ operators: [] }) })],
    ['answers 500', () => ({ status: 500, body: 'boom' })],
    ['resets the connection', () => ({ reset: true })],
  ])('a hook that %s gives the default routing within the timeout', async (label, reply) => {
    const projectId = `os-${label.replace(/\W+/g, '-')}`;
    await hookFor(projectId, reply);
    const answer = await select(projectId);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-operator-select-path')).toBe('default');
    expect(answer.body).toEqual(routing(projectId));
    expect(answer.elapsed).toBeLessThan(TIMEOUT_MS + 1500);
  });

  test('no hook at all gives the default routing', async () => {
    const answer = await select('os-none');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-operator-select-path')).toBe('default');
    expect(answer.headers.get('x-operator-select-reason')).toMatch(/no operator.select subscription/);
    expect(answer.body).toEqual(routing('os-none'));
  });

  test('a second operator.select is 409, also when two creates race', async () => {
    const token = t.tokenFor({ 'os-unique': 'owner', 'os-race': 'owner' });
    const first = await t.api('POST', '/os-unique/subscriptions', { token, body: { event: 'operator.select', target: 'http://127.0.0.1:9/a' } });
    const second = await t.api('POST', '/os-unique/subscriptions', { token, body: { event: 'operator.select', target: 'http://127.0.0.1:9/b' } });
    expect([first.status, second.status]).toEqual([201, 409]);

    const raced = await Promise.all(
      ['c', 'd'].map((path) =>
        t.api('POST', '/os-race/subscriptions', { token, body: { event: 'operator.select', target: `http://127.0.0.1:9/${path}` } }),
      ),
    );
    expect(raced.map((reply) => reply.status).sort()).toEqual([201, 409]);
  });

  test('auth and input: 401 without token, 403 for an agent, 400 for a foreign id_project', async () => {
    expect((await t.api('POST', '/os-auth/operator-select', { token: null, body: routing('os-auth') })).status).toBe(401);
    const agent = t.tokenFor({ 'os-auth': 'agent' });
    expect((await t.api('POST', '/os-auth/operator-select', { token: agent, body: routing('os-auth') })).status).toBe(403);
    const foreign = await select('os-auth', routing('another-project'));
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors).toEqual([expect.objectContaining({ field: 'id_project' })]);
  });

  test('a direct Lambda Invoke with the routing payload answers the routing result', async () => {
    const hook = await hookFor('os-invoke', () => ({ status: 200, body: JSON.stringify({ operators: [{ id_user: 'u9' }] }) }));
    const { operatorSelect } = await import('../../lambdas/handlers/operator-select');
    const result = await operatorSelect(routing('os-invoke'));
    expect(result).toMatchObject({ operators: [{ id_user: 'u9' }], department: { _id: 'd1', name: 'Sales' } });
    await hook.receiver.waitFor(1);
  });
});
