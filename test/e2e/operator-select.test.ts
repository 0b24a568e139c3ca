import { Webhook } from 'standardwebhooks';
import { signToken } from '../../lambdas/core/token';
import { SUBSCRIPTION_VIEW_KEYS, expectError, expectFieldError, hookOf } from '../support/api-expectations';
import { ApiReply, TestStack, startTestStack } from '../support/local-stack-harness';
import { LoggedAttempt, barrier, eventually, logsOf, subscribe } from '../support/pipeline';
import { Receiver, ReceivedRequest, Reply, startReceiver } from '../support/receiver';

// A short hook timeout keeps the timeout case to a second.
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

/** Tiledesk's routing payload for a conversation in `projectId`; u1 is the suggested operator. */
function routingRequest(projectId: string) {
  return {
    id_project: projectId,
    operators: [{ id_user: 'u1' }],
    agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
    available_agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
    department: { _id: 'd1', name: 'Sales' },
    project: { _id: projectId, name: 'Acme' },
    lastOperatorId: 'u1',
    context: { request: { request_id: `support-group-${projectId}`, channel: { name: 'chat21' } } },
  };
}

const HOOK_CHOICE = { operators: [{ id_user: 'u2' }] };

/** An answer the receiver gives; a plain status reply, so the tables below can read its parts. */
type StatusReply = { status: number; body?: string; headers?: Record<string, string> };

const json = (status: number, body: unknown): StatusReply => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
});

const owner = (projectId: string): string => t.tokenFor({ [projectId]: 'owner' });

async function receiver(reply: (index: number) => Reply): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

/** A receiver answering `reply` to every request, subscribed as the project's operator.select hook. */
async function hookFor(projectId: string, reply: Reply): Promise<{ hook: Receiver; subscription: { _id: string; secret: string } }> {
  const hook = await receiver(() => reply);
  const subscription = await subscribe(t, projectId, 'operator.select', hook.url);
  return { hook, subscription };
}

/** Calls `POST /{projectId}/operator-select`, by default as the platform with the routing payload. */
async function select(
  projectId: string,
  options: { token?: string | null; body?: unknown; rawBody?: string } = {},
): Promise<ApiReply> {
  return t.api('POST', `/${projectId}/operator-select`, {
    token: 'token' in options ? options.token : t.platformToken(),
    body: options.rawBody === undefined ? (options.body ?? routingRequest(projectId)) : undefined,
    rawBody: options.rawBody,
  });
}

/** The parts of a routing answer the tests check, in one object so a failure shows them all. */
const outcomeOf = (reply: ApiReply) => ({
  status: reply.status,
  path: reply.headers.get('x-operator-select-path'),
  reason: reply.headers.get('x-operator-select-reason'),
  body: reply.body,
});

/** The default routing: the request's own operators, whatever went wrong with the hook. */
const defaultRouting = (projectId: string, reason: string | RegExp) => ({
  status: 200,
  path: 'default',
  reason: typeof reason === 'string' ? reason : expect.stringMatching(reason),
  body: routingRequest(projectId),
});

/** The routing payload a hook received. */
const payloadOf = (request: ReceivedRequest): Record<string, unknown> =>
  (JSON.parse(request.body) as { payload: Record<string, unknown> }).payload;

function headersOf(request: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
}

/** The single logged attempt of a subscription (operator.select logs before it answers). */
async function onlyLogOf(projectId: string, subscriptionId: string): Promise<LoggedAttempt & Record<string, unknown>> {
  const logs = await logsOf(t, projectId, subscriptionId);
  expect(logs).toHaveLength(1);
  return logs[0] as LoggedAttempt & Record<string, unknown>;
}

describe('a hook that picks an agent', () => {
  test('wins: its operators, with department and agents from the request, over a signed POST that is logged', async () => {
    const projectId = 'opsel-pick';
    const { hook, subscription } = await hookFor(projectId, json(200, HOOK_CHOICE));

    const reply = await select(projectId);

    expect(outcomeOf(reply)).toEqual({
      status: 200,
      path: 'hook',
      reason: 'chosen by the operator.select hook',
      body: { ...routingRequest(projectId), operators: [{ id_user: 'u2' }] },
    });
    expect(reply.headers.get('content-type')).toBe('application/json');

    expect(hook.received).toHaveLength(1);
    const request = hook.received[0]!;
    const headers = headersOf(request);
    const verified = new Webhook(subscription.secret).verify(request.body, headers) as Record<string, unknown>;
    const stored = await t.api('GET', `/${projectId}/subscriptions/${subscription._id}`, { token: owner(projectId) });
    expect(Object.keys(stored.body).sort()).toEqual(SUBSCRIPTION_VIEW_KEYS);
    expect(verified).toEqual({ hook: hookOf(stored.body), timestamp: expect.any(Number), payload: routingRequest(projectId), token: expect.any(String) });
    expect(Math.abs((verified.timestamp as number) - Date.now())).toBeLessThan(30_000);
    expect(headers['webhook-timestamp']).toBe(String(Math.floor((verified.timestamp as number) / 1000)));
    expect(headers['webhook-id']).toMatch(/^msg_opsel_[0-9a-f-]{36}$/);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toBe('tiledesk-webhooks');
    expect(headers.origin).toBe(t.stack.apiUrl);
    expect(headers['x-hook-secret']).toBe(subscription.secret);

    const log = await onlyLogOf(projectId, subscription._id);
    expect(log).toMatchObject({
      attempt: 1,
      outcome: 'delivered',
      statusCode: 200,
      event: 'operator.select',
      target: hook.url,
      webhookId: headers['webhook-id'],
      responseBody: JSON.stringify(HOOK_CHOICE),
      payload: routingRequest(projectId),
    });
    expect(log).not.toHaveProperty('error');
  });

  test('wins with an empty operators array too, as in Tiledesk: the conversation stays unassigned', async () => {
    const projectId = 'opsel-pick-none';
    await hookFor(projectId, json(200, { operators: [] }));

    const reply = await select(projectId);

    expect(outcomeOf(reply)).toMatchObject({ status: 200, path: 'hook' });
    expect(reply.body).toEqual({ ...routingRequest(projectId), operators: [] });
  });

  test("reaches Tiledesk as the hook sent it, though credential-shaped values in it are redacted from the attempt log", async () => {
    const projectId = 'opsel-pick-unredacted';
    const jwtShaped = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MiJ9.c2lnbmF0dXJl';
    const { subscription } = await hookFor(projectId, json(200, { operators: [{ id_user: 'u2', note: `x-${jwtShaped}`, avatar: 'Bearer 0123456789abcdef' }] }));

    const reply = await select(projectId);

    expect(outcomeOf(reply)).toMatchObject({ status: 200, path: 'hook' });
    expect(reply.body).toMatchObject({ operators: [{ id_user: 'u2', note: `x-${jwtShaped}`, avatar: 'Bearer 0123456789abcdef' }] });
    const log = await eventually(() => onlyLogOf(projectId, subscription._id));
    expect(String(log.responseBody)).not.toContain(jwtShaped);
    expect(String(log.responseBody)).not.toContain('0123456789abcdef');
  });

  test('overrides department and agents when its answer carries them', async () => {
    const projectId = 'opsel-pick-department';
    const answer = {
      operators: [{ id_user: 'u3' }],
      department: { _id: 'd2', name: 'Support' },
      agents: [{ id_user: 'u3' }],
    };
    await hookFor(projectId, json(200, answer));

    const reply = await select(projectId);

    expect(outcomeOf(reply)).toMatchObject({ status: 200, path: 'hook' });
    expect(reply.body).toEqual({ ...routingRequest(projectId), ...answer });
  });

  test('is asked once per routing request, each under its own webhook-id and log entry', async () => {
    const projectId = 'opsel-pick-twice';
    const { hook, subscription } = await hookFor(projectId, json(200, HOOK_CHOICE));

    await select(projectId);
    await select(projectId);

    const ids = hook.received.map((request) => request.headers['webhook-id']);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    const logs = await logsOf(t, projectId, subscription._id);
    expect(logs.map((log) => log.webhookId).sort()).toEqual([...ids].sort());
  });
});

describe('default routing', () => {
  test('a hook that times out: the suggested operators once the timeout passed, logged as a timeout', async () => {
    const projectId = 'opsel-timeout';
    const { hook, subscription } = await hookFor(projectId, { hang: true });

    const reply = await select(projectId);

    expect(outcomeOf(reply)).toEqual(defaultRouting(projectId, `timeout after ${TIMEOUT_MS} ms`));
    expect(hook.received).toHaveLength(1);
    const log = await onlyLogOf(projectId, subscription._id);
    expect(log).toMatchObject({
      attempt: 1,
      outcome: 'failed',
      errorKind: 'timeout',
      error: `timeout after ${TIMEOUT_MS} ms; default routing used`,
    });
    expect(log).not.toHaveProperty('statusCode');
    expect(log.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  });

  test.each<{ answer: string; reply: StatusReply; reason: string }>([
    { answer: '200 with a body that is not JSON', reply: { status: 200, body: 'not json' }, reason: 'hook answer is not JSON' },
    { answer: '204 with no body', reply: { status: 204 }, reason: 'hook answer is not JSON' },
    { answer: '200 JSON without operators', reply: json(200, { department: { _id: 'd9' } }), reason: 'hook answer has no operators' },
    { answer: '200 JSON whose operator has no id_user', reply: json(200, { operators: [{ name: 'u2' }] }), reason: 'hook answer has no operators' },
    { answer: '200 JSON null', reply: json(200, null), reason: 'hook answer has no operators' },
    { answer: '200 JSON array of operators', reply: json(200, [{ id_user: 'u2' }]), reason: 'hook answer has no operators' },
    { answer: '500', reply: { status: 500, body: 'boom' }, reason: 'hook answered 500' },
    { answer: '503 with a well-formed choice', reply: json(503, HOOK_CHOICE), reason: 'hook answered 503' },
    { answer: '302 to another URL', reply: { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } }, reason: 'hook answered 302' },
  ])('a hook answering $answer: the suggested operators, 200 to the caller, logged as failed', async ({ answer, reply, reason }) => {
    const projectId = `opsel-answer-${answer.replace(/[^A-Za-z0-9]+/g, '-')}`.slice(0, 64);
    const { hook, subscription } = await hookFor(projectId, reply);

    const routed = await select(projectId);

    expect(outcomeOf(routed)).toEqual(defaultRouting(projectId, reason));
    expect(hook.received).toHaveLength(1);
    const log = await onlyLogOf(projectId, subscription._id);
    expect(log).toMatchObject({
      attempt: 1,
      outcome: 'failed',
      statusCode: reply.status,
      error: `${reason}; default routing used`,
    });
    expect(log.responseBody).toBe(reply.body || undefined);
  });

  test('a hook that resets the connection: the suggested operators, logged as a network failure', async () => {
    const projectId = 'opsel-reset';
    const { hook, subscription } = await hookFor(projectId, { reset: true });

    const reply = await select(projectId);

    // A network failure, told apart from a timeout: the reset, not the clock, ended the call.
    expect(outcomeOf(reply)).toEqual(defaultRouting(projectId, /socket hang up|ECONNRESET/));
    expect(reply.headers.get('x-operator-select-reason')).not.toMatch(/timeout/);
    expect(hook.received).toHaveLength(1);
    const log = await onlyLogOf(projectId, subscription._id);
    expect(log).toMatchObject({ attempt: 1, outcome: 'failed', errorKind: 'network' });
    expect(log.error).not.toMatch(/timeout/);
    expect(log).not.toHaveProperty('statusCode');
  });

  test('no hook at all: the suggested operators, and the reason says there is no subscription', async () => {
    const projectId = 'opsel-none';
    // Subscribers of other events are not asked to route.
    const other = await receiver(() => json(200, HOOK_CHOICE));
    await subscribe(t, projectId, 'request.create', other.url);

    const reply = await select(projectId);

    expect(outcomeOf(reply)).toEqual(defaultRouting(projectId, 'no operator.select subscription'));
    expect(other.received).toHaveLength(0);
  });

  test("another project's hook is never asked", async () => {
    const { hook } = await hookFor('opsel-theirs', json(200, HOOK_CHOICE));

    const reply = await select('opsel-mine');

    expect(outcomeOf(reply)).toEqual(defaultRouting('opsel-mine', 'no operator.select subscription'));
    expect(hook.received).toHaveLength(0);
  });

  test('a request without operators gets an empty suggestion back', async () => {
    const projectId = 'opsel-no-operators';
    const { operators: _operators, ...withoutOperators } = routingRequest(projectId);

    const reply = await select(projectId, { body: withoutOperators });

    expect(outcomeOf(reply)).toEqual({
      ...defaultRouting(projectId, 'no operator.select subscription'),
      body: { ...withoutOperators, operators: [] },
    });
  });
});

describe('a disabled hook', () => {
  test('gets no request and the default routing is used, until it is enabled again', async () => {
    const projectId = 'opsel-disabled';
    const { hook, subscription } = await hookFor(projectId, json(200, HOOK_CHOICE));
    const path = `/${projectId}/subscriptions/${subscription._id}`;

    const disabled = await t.api('PUT', path, { token: owner(projectId), body: { status: 'disabled' } });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ status: 'disabled', disabledReason: 'disabled through the API' });

    const reply = await select(projectId);
    expect(outcomeOf(reply)).toEqual(defaultRouting(projectId, 'operator.select subscription disabled'));
    expect(hook.received).toHaveLength(0);
    expect(await logsOf(t, projectId, subscription._id)).toEqual([]);

    const enabled = await t.api('PUT', path, { token: owner(projectId), body: { status: 'active' } });
    expect(enabled.status).toBe(200);
    expect(outcomeOf(await select(projectId))).toMatchObject({ status: 200, path: 'hook' });
    expect(hook.received).toHaveLength(1);
  });

  test('a deleted hook is no longer asked', async () => {
    const projectId = 'opsel-deleted';
    const { hook, subscription } = await hookFor(projectId, json(200, HOOK_CHOICE));
    const deleted = await t.api('DELETE', `/${projectId}/subscriptions/${subscription._id}`, { token: owner(projectId) });
    expect(deleted.status).toBe(200);

    expect(outcomeOf(await select(projectId))).toEqual(defaultRouting(projectId, 'no operator.select subscription'));
    expect(hook.received).toHaveLength(0);
  });
});

describe('who may call it, and with what', () => {
  const projectId = 'opsel-auth';
  let hook: Receiver;

  beforeAll(async () => {
    ({ hook } = await hookFor(projectId, json(200, HOOK_CHOICE)));
  });
  // Refused calls must never reach the hook.
  afterEach(() => {
    expect(hook.received.map(payloadOf).filter((payload) => payload.lastOperatorId !== 'accepted')).toEqual([]);
  });

  const accepted = () => ({ ...routingRequest(projectId), lastOperatorId: 'accepted' });

  test('no token is 401', async () => {
    expectError(await select(projectId, { token: null }), 401);
  });

  test('a token signed with another secret is 401', async () => {
    const forged = signToken({ sub: 'mallory', platform: true }, 'not-the-secret');
    expectError(await select(projectId, { token: forged }), 401);
  });

  test("an agent of the project, or an owner of another project, is 403", async () => {
    expectError(await select(projectId, { token: t.tokenFor({ [projectId]: 'agent' }) }), 403);
    expectError(await select(projectId, { token: t.tokenFor({ 'opsel-elsewhere': 'owner' }) }), 403);
  });

  test.each<{ caller: string; token: () => string }>([
    { caller: 'an owner of the project', token: () => t.tokenFor({ [projectId]: 'owner' }) },
    { caller: 'an admin of the project', token: () => t.tokenFor({ [projectId]: 'admin' }) },
    { caller: 'the platform', token: () => t.platformToken() },
  ])('$caller gets the routing', async ({ token }) => {
    const reply = await select(projectId, { token: token(), body: accepted() });
    expect(outcomeOf(reply)).toEqual({
      status: 200,
      path: 'hook',
      reason: 'chosen by the operator.select hook',
      body: { ...accepted(), operators: [{ id_user: 'u2' }] },
    });
  });

  test('an id_project in the body that differs from the path is 400', async () => {
    expectFieldError(await select(projectId, { body: routingRequest('opsel-other') }), 'id_project');
  });

  test('a body without id_project takes the path project', async () => {
    const { id_project: _idProject, ...body } = accepted();
    const reply = await select(projectId, { body });
    expect(outcomeOf(reply)).toMatchObject({ status: 200, path: 'hook', body: { id_project: projectId } });
    expect(payloadOf(hook.received.at(-1)!).id_project).toBe(projectId);
  });

  test('malformed JSON is 400', async () => {
    expectFieldError(await select(projectId, { rawBody: '{"id_project": "opsel-auth", ' }), 'body', /invalid JSON/);
  });

  test('no body is 400', async () => {
    expectFieldError(await select(projectId, { rawBody: '' }), 'body');
  });

  test('operators that are not an array are 400', async () => {
    expectFieldError(await select(projectId, { body: { ...routingRequest(projectId), operators: { id_user: 'u1' } } }), 'operators');
  });

  test('an operator without id_user is 400', async () => {
    expectFieldError(await select(projectId, { body: { ...routingRequest(projectId), operators: [{ name: 'u1' }] } }), 'operators.0.id_user');
  });
});

describe('one operator.select hook per project', () => {
  const create = (projectId: string, target: string, event = 'operator.select') =>
    t.api('POST', `/${projectId}/subscriptions`, { token: owner(projectId), body: { event, target } });
  const operatorSelectIds = async (projectId: string): Promise<string[]> => {
    const listed = await t.api('GET', `/${projectId}/subscriptions`, { token: owner(projectId) });
    return (JSON.parse(listed.text) as { _id: string; event: string }[])
      .filter((subscription) => subscription.event === 'operator.select')
      .map((subscription) => subscription._id);
  };

  test('a second one with another target is 409; the same target again is the first one (idempotent, 200)', async () => {
    const projectId = 'opsel-unique';
    const first = await create(projectId, 'http://127.0.0.1:9/first');
    expect(first.status).toBe(200);

    expectError(await create(projectId, 'http://127.0.0.1:9/second'), 409, /already has an operator\.select subscription/);
    const again = await create(projectId, 'http://127.0.0.1:9/first');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await operatorSelectIds(projectId)).toEqual([first.body._id]);
  });

  test('other events keep one subscription per target, beside the hook', async () => {
    const projectId = 'opsel-unique-others';
    expect((await create(projectId, 'http://127.0.0.1:9/hook')).status).toBe(200);
    expect((await create(projectId, 'http://127.0.0.1:9/a', 'request.create')).status).toBe(200);
    expect((await create(projectId, 'http://127.0.0.1:9/b', 'request.create')).status).toBe(200);
    expect((await t.api('GET', `/${projectId}/subscriptions`, { token: owner(projectId) })).body).toHaveLength(3);
  });

  test('two concurrent creates: exactly one 200 and one 409, and one hook stored', async () => {
    const projectId = 'opsel-race';
    const replies = await Promise.all([create(projectId, 'http://127.0.0.1:9/c'), create(projectId, 'http://127.0.0.1:9/d')]);

    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409]);
    const winner = replies.find((reply) => reply.status === 200)!;
    expect(await operatorSelectIds(projectId)).toEqual([winner.body._id]);
  });

  test('five concurrent creates: exactly one wins', async () => {
    const projectId = 'opsel-race-five';
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => create(projectId, `http://127.0.0.1:9/${n}`)));

    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(await operatorSelectIds(projectId)).toHaveLength(1);
  });

  test('turning another subscription into operator.select is 409 while a hook exists', async () => {
    const projectId = 'opsel-unique-put';
    expect((await create(projectId, 'http://127.0.0.1:9/hook')).status).toBe(200);
    const other = await create(projectId, 'http://127.0.0.1:9/other', 'request.create');

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${other.body._id}`, {
      token: owner(projectId),
      body: { event: 'operator.select' },
    });
    expectError(reply, 409, /already has an operator\.select subscription/);
  });

  test('the hook may move to another target, and once deleted a new one may be created', async () => {
    const projectId = 'opsel-unique-move';
    const first = await create(projectId, 'http://127.0.0.1:9/old');
    const path = `/${projectId}/subscriptions/${first.body._id}`;

    const moved = await t.api('PUT', path, { token: owner(projectId), body: { target: 'http://127.0.0.1:9/new' } });
    expect(moved.status).toBe(200);
    expect(moved.body.target).toBe('http://127.0.0.1:9/new');

    expect((await t.api('DELETE', path, { token: owner(projectId) })).status).toBe(200);
    const replacement = await create(projectId, 'http://127.0.0.1:9/replacement');
    expect(replacement.status).toBe(200);
    expect(replacement.body._id).not.toBe(first.body._id);
  });
});

describe('the hook is synchronous only', () => {
  test('a logged operator.select attempt is not replayed through the delivery queue: 409', async () => {
    const projectId = 'opsel-replay';
    const { hook, subscription } = await hookFor(projectId, { status: 500, body: 'boom' });
    await select(projectId);
    const log = await onlyLogOf(projectId, subscription._id);

    // Nobody waits for a replayed routing request: it would only reach the hook late, be
    // retried for hours, and count towards disabling the hook. The README promises 409.
    const reply = await t.api('POST', `/${projectId}/subscriptions/${subscription._id}/logs/${String(log.logId)}/retry`, {
      token: owner(projectId),
    });
    expectError(reply, 409, /synchronous/);

    // Nothing went through the delivery queue: past a barrier, the hook still heard one request
    // and the log still holds one attempt.
    await barrier(t);
    expect(hook.received).toHaveLength(1);
    expect(await logsOf(t, projectId, subscription._id)).toHaveLength(1);
  });

});
