import jwt from 'jsonwebtoken';
import { Webhook } from 'standardwebhooks';
import { PostOutcome, PostRequest } from '../../../lambdas/core/deliver';
import { RoutingRequest, routingRequestSchema, selectOperators } from '../../../lambdas/core/operator-select';
import { Subscription, newSigningSecret, toView } from '../../../lambdas/core/subscription';

// Standard Webhooks verification checks the timestamp against the clock, so "now" is real.
const NOW = new Date();
const WEBHOOK_ID = 'msg_opsel_test-1';
const ORIGIN = 'https://webhooks.example.com';

const request: RoutingRequest = routingRequestSchema.parse({
  id_project: 'p1',
  operators: [{ id_user: 'u1' }],
  agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
  available_agents: [{ id_user: 'u2' }],
  department: { _id: 'd1', name: 'Sales' },
  context: { request: { request_id: 'support-group-1' } },
});

function hookSubscription(changes: Partial<Subscription> = {}): Subscription {
  return {
    _id: '0123456789abcdef01234567',
    id_project: 'p1',
    event: 'operator.select',
    target: 'https://hooks.example.com/route',
    createdBy: 'owner-1',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    status: 'active',
    secret: newSigningSecret(),
    ...changes,
  };
}

/** A `post` that records what it was asked to send and answers `outcome`. */
function fakeSender(outcome: Partial<PostOutcome> = {}) {
  const sent: PostRequest[] = [];
  const deps = {
    origin: ORIGIN,
    now: () => NOW,
    post: async (postRequest: PostRequest): Promise<PostOutcome> => {
      sent.push(postRequest);
      return { headers: {}, body: '', durationMs: 12, ...outcome };
    },
  };
  return { sent, deps };
}

const answering = (statusCode: number, body: unknown) =>
  fakeSender({ statusCode, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('selectOperators without a usable hook', () => {
  test('no subscription: the request, untouched, and nothing is sent or logged', async () => {
    const { sent, deps } = fakeSender();
    const selection = await selectOperators(request, undefined, WEBHOOK_ID, deps);
    expect(selection).toEqual({ result: request, path: 'default', reason: 'no operator.select subscription' });
    expect(sent).toEqual([]);
  });

  test('a subscription that now listens to another event (its guard not yet released): default routing, nothing sent', async () => {
    const { sent, deps } = fakeSender();
    const selection = await selectOperators(request, hookSubscription({ event: 'request.create' }), WEBHOOK_ID, deps);
    expect(selection).toEqual({ result: request, path: 'default', reason: 'no operator.select subscription' });
    expect(sent).toEqual([]);
  });

  test('a disabled subscription: the request, untouched, and nothing is sent or logged', async () => {
    const { sent, deps } = fakeSender();
    const selection = await selectOperators(request, hookSubscription({ status: 'disabled' }), WEBHOOK_ID, deps);
    expect(selection).toEqual({ result: request, path: 'default', reason: 'operator.select subscription disabled' });
    expect(sent).toEqual([]);
  });
});

describe('selectOperators asking the hook', () => {
  test('POSTs {hook, timestamp, payload, token} to the target, signed so standardwebhooks and jsonwebtoken verify it', async () => {
    const hook = hookSubscription();
    const { sent, deps } = answering(200, { operators: [{ id_user: 'u2' }] });
    await selectOperators(request, hook, WEBHOOK_ID, deps);

    expect(sent).toHaveLength(1);
    const [post] = sent;
    expect(post!.url).toBe(hook.target);
    expect(JSON.parse(post!.body)).toEqual({ hook: toView(hook), timestamp: NOW.getTime(), payload: request, token: expect.any(String) });
    const { token } = JSON.parse(post!.body) as { token: string };
    expect(
      jwt.verify(token, hook.secret, {
        issuer: 'https://tiledesk.com',
        subject: 'subscription',
        audience: `https://tiledesk.com/subscriptions/${hook._id}`,
      }),
    ).toMatchObject(toView(hook));
    expect(post!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'tiledesk-webhooks',
      origin: ORIGIN,
      'x-hook-secret': hook.secret,
      'webhook-id': WEBHOOK_ID,
      'webhook-timestamp': String(Math.floor(NOW.getTime() / 1000)),
    });
    expect(new Webhook(hook.secret).verify(post!.body, post!.headers)).toEqual(JSON.parse(post!.body));
  });

  test('during a secret rotation the POST verifies with the new and the previous secret', async () => {
    const previousSecret = newSigningSecret();
    const hook = hookSubscription({
      previousSecret,
      previousSecretExpiresAt: new Date(NOW.getTime() + 3600_000).toISOString(),
    });
    const { sent, deps } = answering(200, { operators: [{ id_user: 'u2' }] });
    await selectOperators(request, hook, WEBHOOK_ID, deps);

    const [post] = sent;
    expect(post!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(hook.secret).verify(post!.body, post!.headers)).not.toThrow();
    expect(() => new Webhook(previousSecret).verify(post!.body, post!.headers)).not.toThrow();
  });

  test('a 2xx JSON answer with operators wins; department and agents come from the request; the attempt is delivered', async () => {
    const hook = hookSubscription();
    const answer = JSON.stringify({ operators: [{ id_user: 'u2', note: 'kept' }] });
    const { deps } = answering(200, answer);

    const selection = await selectOperators(request, hook, WEBHOOK_ID, deps);

    expect(selection).toEqual({
      result: { ...request, operators: [{ id_user: 'u2', note: 'kept' }] },
      path: 'hook',
      reason: 'chosen by the operator.select hook',
      attempt: {
        logId: expect.stringMatching(new RegExp(`^${String(NOW.getTime()).padStart(14, '0')}-[0-9a-f]{10}$`)),
        projectId: 'p1',
        subscriptionId: hook._id,
        webhookId: WEBHOOK_ID,
        eventId: WEBHOOK_ID,
        event: 'operator.select',
        target: hook.target,
        attempt: 1,
        outcome: 'delivered',
        statusCode: 200,
        durationMs: 12,
        responseBody: answer,
        attemptedAt: NOW.toISOString(),
        payload: request,
      },
    });
  });

  test('department and agents in the answer replace the request ones', async () => {
    const answer = { operators: [{ id_user: 'u3' }], department: { _id: 'd2' }, agents: [{ id_user: 'u3' }] };
    const { deps } = answering(201, answer);
    const selection = await selectOperators(request, hookSubscription(), WEBHOOK_ID, deps);
    expect(selection).toMatchObject({ path: 'hook', result: { ...request, ...answer } });
  });

  test('an empty operators array wins too, as in Tiledesk: the conversation stays unassigned', async () => {
    const { deps } = answering(200, { operators: [] });
    const selection = await selectOperators(request, hookSubscription(), WEBHOOK_ID, deps);
    expect(selection).toMatchObject({ path: 'hook', result: { ...request, operators: [] } });
    expect(selection.attempt?.outcome).toBe('delivered');
  });

  test('the answer cannot move the conversation to another project', async () => {
    const { deps } = answering(200, { operators: [{ id_user: 'u2' }], id_project: 'someone-else' });
    const selection = await selectOperators(request, hookSubscription(), WEBHOOK_ID, deps);
    expect(selection.path).toBe('hook');
    expect(selection.result.id_project).toBe('p1');
  });
});

test('an answer nested exactly as deep as a request may be (32 levels) still wins', async () => {
  const deep = `{"operators":[{"id_user":"u2","x":${'['.repeat(29)}${']'.repeat(29)}}]}`;
  const selection = await selectOperators(request, hookSubscription(), WEBHOOK_ID, answering(200, deep).deps);
  expect(selection).toMatchObject({ path: 'hook', result: { operators: [{ id_user: 'u2' }] } });
});

describe('selectOperators falling back to the default routing', () => {
  test.each<{ case: string; outcome: Partial<PostOutcome>; reason: string }>([
    { case: 'a 500', outcome: { statusCode: 500, body: 'boom' }, reason: 'hook answered 500' },
    { case: 'a 503 carrying a choice', outcome: { statusCode: 503, body: '{"operators":[{"id_user":"u2"}]}' }, reason: 'hook answered 503' },
    { case: 'a 302', outcome: { statusCode: 302 }, reason: 'hook answered 302' },
    { case: 'a timeout', outcome: { error: 'timeout after 5000 ms', errorKind: 'timeout' }, reason: 'timeout after 5000 ms' },
    { case: 'a connection reset', outcome: { error: 'socket hang up', errorKind: 'network' }, reason: 'socket hang up' },
    {
      case: 'a 200 whose body broke off',
      outcome: { statusCode: 200, body: '{"operators":[{"id_user":"u2"}]}', error: 'aborted', errorKind: 'network' },
      reason: 'aborted',
    },
    { case: 'a body that is not JSON', outcome: { statusCode: 200, body: 'not json' }, reason: 'hook answer is not JSON' },
    { case: 'an empty 204', outcome: { statusCode: 204 }, reason: 'hook answer is not JSON' },
    { case: 'no operators', outcome: { statusCode: 200, body: '{"department":{"_id":"d9"}}' }, reason: 'hook answer has no operators' },
    { case: 'operators not an array', outcome: { statusCode: 200, body: '{"operators":{"id_user":"u2"}}' }, reason: 'hook answer has no operators' },
    { case: 'an operator with an empty id_user', outcome: { statusCode: 200, body: '{"operators":[{"id_user":""}]}' }, reason: 'hook answer has no operators' },
    { case: 'JSON null', outcome: { statusCode: 200, body: 'null' }, reason: 'hook answer has no operators' },
    { case: 'a JSON array', outcome: { statusCode: 200, body: '[{"id_user":"u2"}]' }, reason: 'hook answer has no operators' },
    {
      // Passed on, it would reach Tiledesk, whose JSON code need not take 20,000 levels.
      case: 'a winning answer whose department nests 20,000 levels',
      outcome: { statusCode: 200, body: `{"operators":[{"id_user":"u2"}],"department":${'['.repeat(20_000)}${']'.repeat(20_000)}}` },
      reason: 'hook answer nests deeper than 32 levels',
    },
    {
      case: 'an operator entry one level past the bound',
      outcome: { statusCode: 200, body: `{"operators":[{"id_user":"u2","x":${'['.repeat(30)}${']'.repeat(30)}}]}` },
      reason: 'hook answer nests deeper than 32 levels',
    },
  ])('$case: the suggested operators, and a failed attempt that says so', async ({ outcome, reason }) => {
    const hook = hookSubscription();
    const { sent, deps } = fakeSender(outcome);

    const selection = await selectOperators(request, hook, WEBHOOK_ID, deps);

    expect(sent).toHaveLength(1);
    expect(selection).toMatchObject({ result: request, path: 'default', reason });
    expect(selection.result).toBe(request);
    expect(selection.attempt).toMatchObject({
      outcome: 'failed',
      subscriptionId: hook._id,
      webhookId: WEBHOOK_ID,
      error: `${reason}; default routing used`,
      payload: request,
    });
    expect(selection.attempt?.statusCode).toBe(outcome.statusCode);
    expect(selection.attempt?.errorKind).toBe(outcome.errorKind);
    expect(selection.attempt?.responseBody).toBe(outcome.body || undefined);
  });
});
