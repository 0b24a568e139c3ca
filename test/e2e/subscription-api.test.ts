import { createHmac, randomBytes } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Attempt } from '../../lambdas/core/attempt';
import { signToken } from '../../lambdas/core/token';
import {
  ISO_TIMESTAMP,
  OBJECT_ID,
  SUBSCRIPTION_VIEW_KEYS,
  callWithAuthorization,
  expectError,
  expectFieldError,
  subscriptionOf,
  subscriptionsOf,
} from '../support/api-expectations';
import { ApiReply, TestStack, startTestStack } from '../support/local-stack-harness';
import { Receiver, startReceiver } from '../support/receiver';
import { UNREACHABLE_TARGET } from '../../lambdas/core/target-policy';

/** The one refusal of private and unresolvable targets, exactly. */
const UNREACHABLE = new RegExp(`^${UNREACHABLE_TARGET.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t?.stop();
});

let projectCount = 0;

/** A project of its own for each test, with its owner's token, so tests never see each other's data. */
function newProject(role: 'owner' | 'admin' = 'owner'): { projectId: string; token: string; userId: string } {
  const projectId = `p${++projectCount}-${randomBytes(3).toString('hex')}`;
  const userId = `user-${projectCount}`;
  return { projectId, token: t.tokenFor({ [projectId]: role }, userId), userId };
}

let targetCount = 0;

/** A distinct loopback target (allowlisted locally); nothing listens there, nothing is published to it. */
const newTarget = (): string => `http://127.0.0.1:9/hook-${++targetCount}`;

function create(projectId: string, token: string, body: unknown): Promise<ApiReply> {
  return t.api('POST', `/${projectId}/subscriptions`, { token, body });
}

/** Creates a subscription that must succeed and returns it as the API showed it. */
async function createOk(projectId: string, token: string, event = 'request.create', target = newTarget()) {
  const reply = await create(projectId, token, { event, target });
  expect(reply.status).toBe(200);
  return subscriptionOf(reply);
}

/** Page queries both attempt listings refuse: [field, query, message]. */
const BAD_PAGE_QUERIES: [string, string, RegExp][] = [
  ['cursor', '?cursor=garbage', /cursor/],
  ['limit', '?limit=0', /\S/],
  ['limit', '?limit=201', /\S/],
  ['limit', '?limit=ten', /\S/],
];


describe('POST /{projectId}/subscriptions', () => {
  it('creates a subscription: 200 (as Tiledesk) with the view, the secret and the x-hook-secret header', async () => {
    const { projectId, token, userId } = newProject();
    const target = newTarget();
    const before = Date.now();

    const reply = await create(projectId, token, { event: 'request.create', target });

    expect(reply.status).toBe(200);
    const created = subscriptionOf(reply);
    expect(Object.keys(created).sort()).toEqual([...SUBSCRIPTION_VIEW_KEYS, 'secret'].sort());
    expect(created).toEqual({
      _id: expect.stringMatching(OBJECT_ID),
      id_project: projectId,
      event: 'request.create',
      target,
      createdBy: userId,
      createdAt: expect.stringMatching(ISO_TIMESTAMP),
      updatedAt: created.createdAt,
      status: 'active',
      health: { circuit: 'closed', consecutiveFailures: 0, lane: 'fast' },
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
    });
    const secretBytes = Buffer.from((created.secret ?? '').slice('whsec_'.length), 'base64');
    expect(secretBytes.length).toBeGreaterThanOrEqual(24);
    expect(secretBytes.length).toBeLessThanOrEqual(64);
    expect(Date.parse(created.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(created.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(reply.headers.get('x-hook-secret')).toBe(created.secret);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('gives every subscription its own id and secret', async () => {
    const { projectId, token } = newProject();
    const first = await createOk(projectId, token);
    const second = await createOk(projectId, token);
    expect(second._id).not.toBe(first._id);
    expect(second.secret).not.toBe(first.secret);
  });

  it('accepts an admin as well as an owner', async () => {
    const { projectId, token, userId } = newProject('admin');
    const created = await createOk(projectId, token);
    expect(created.createdBy).toBe(userId);
  });

  it.each(['message.create.request.channel.telegram', 'event.emit.typing.start'])(
    'accepts the refinement %s',
    async (event) => {
      const { projectId, token } = newProject();
      const reply = await create(projectId, token, { event, target: newTarget() });
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ event, status: 'active' });
    },
  );

  describe('400 with the offending field', () => {
    it('refuses a body that is not JSON', async () => {
      const { projectId, token } = newProject();
      const reply = await t.api('POST', `/${projectId}/subscriptions`, { token, rawBody: '{"event": "request.create",' });
      expectFieldError(reply, 'body', /invalid JSON/);
    });

    it('refuses an empty body', async () => {
      const { projectId, token } = newProject();
      const reply = await t.api('POST', `/${projectId}/subscriptions`, { token });
      expectFieldError(reply, 'body');
    });

    it('refuses a body without event', async () => {
      const { projectId, token } = newProject();
      expectFieldError(await create(projectId, token, { target: newTarget() }), 'event');
    });

    it('refuses a body without target', async () => {
      const { projectId, token } = newProject();
      expectFieldError(await create(projectId, token, { event: 'request.create' }), 'target');
    });

    it.each(['foo.bar', 'request', 'message.create.request.channel.', 'event.emit.bad name'])(
      'refuses the unknown event %j',
      async (event) => {
        const { projectId, token } = newProject();
        expectFieldError(await create(projectId, token, { event, target: newTarget() }), 'event', /unknown event/);
      },
    );

    it('refuses an unknown field, naming it', async () => {
      const { projectId, token } = newProject();
      const reply = await create(projectId, token, { event: 'request.create', target: newTarget(), secret: 'mine' });
      expectFieldError(reply, 'secret', /unknown field/);
    });

    it.each([
      ['not a URL', 'not a url', /absolute http\(s\) URL/],
      ['a URL with credentials', 'http://u:p@127.0.0.1/', /credentials/],
      ['an ftp URL', 'ftp://127.0.0.1/hook', /https/],
      ['a URL over 2048 characters', `http://127.0.0.1/${'a'.repeat(2048)}`, /2048/],
      // The refusal never names an address (no DNS oracle for internal names).
      ['a private address', 'http://10.0.0.1/hook', UNREACHABLE],
      ['the metadata address', 'http://169.254.169.254/latest', UNREACHABLE],
      ['an SIIT-translated loopback', 'http://[::ffff:0:7f00:1]/', UNREACHABLE],
      ['an ORCHIDv2 address', 'http://[2001:20::1]/', UNREACHABLE],
      ['a documentation address (3fff::/20)', 'http://[3fff::1]/', UNREACHABLE],
      ['a URL with CR/LF', 'http://127.0.0.1:9/ho\r\nok', /control characters/],
      ['a URL with a line feed in the host', 'http://127.0.\n0.1:9/hook', /control characters/],
      ['a URL with a tab', 'http://127.0.0.1:9/\thook', /control characters/],
      ['a URL with a NUL', 'http://127.0.0.1:9/hook\u0000', /control characters/],
    ])('refuses a target that is %s', async (_what, target, message) => {
      const { projectId, token } = newProject();
      expectFieldError(await create(projectId, token, { event: 'request.create', target }), 'target', message);
    });

    it('refuses a CR/LF target on update too, naming target', async () => {
      const { projectId, token } = newProject();
      const { _id: id } = await createOk(projectId, token);
      const reply = await t.api('PUT', `/${projectId}/subscriptions/${id}`, { token, body: { target: 'http://127.0.0.1:9/a\r\nb' } });
      expectFieldError(reply, 'target', /control characters/);
    });

    it('leaves nothing behind after a refused create', async () => {
      const { projectId, token } = newProject();
      await create(projectId, token, { event: 'request.create', target: 'http://10.0.0.1/hook' });
      const list = await t.api('GET', `/${projectId}/subscriptions`, { token });
      expect(subscriptionsOf(list)).toEqual([]);
    });
  });

  describe('a duplicate is idempotent; 409 on a conflict', () => {
    it('answers the same event and target again with the existing subscription and its secret (200, as Tiledesk)', async () => {
      const { projectId, token } = newProject();
      const target = newTarget();
      const first = await createOk(projectId, token, 'request.create', target);

      const reply = await create(projectId, token, { event: 'request.create', target });

      expect(reply.status).toBe(200);
      expect(reply.body).toEqual(first);
      expect(reply.headers.get('x-hook-secret')).toBe(first.secret);
      expect(subscriptionsOf(await t.api('GET', `/${projectId}/subscriptions`, { token }))).toHaveLength(1);
    });

    it('accepts the same target for another event, and the same pair in another project', async () => {
      const { projectId, token } = newProject();
      const other = newProject();
      const target = newTarget();
      await createOk(projectId, token, 'request.create', target);
      await createOk(projectId, token, 'request.close', target);
      await createOk(other.projectId, other.token, 'request.create', target);
    });

    it('refuses a second operator.select subscription even with another target', async () => {
      const { projectId, token } = newProject();
      await createOk(projectId, token, 'operator.select');

      const reply = await create(projectId, token, { event: 'operator.select', target: newTarget() });

      expectError(reply, 409, /operator\.select/);
    });

    it('stores one subscription for two concurrent identical creates, and answers both with it', async () => {
      const { projectId, token } = newProject();
      const body = { event: 'request.create', target: newTarget() };

      const replies = await Promise.all([create(projectId, token, body), create(projectId, token, body)]);

      expect(replies.map((reply) => reply.status)).toEqual([200, 200]);
      expect(replies[0]!.body).toEqual(replies[1]!.body);
      const list = subscriptionsOf(await t.api('GET', `/${projectId}/subscriptions`, { token }));
      expect(list.map((item) => item._id)).toEqual([replies[0]!.body._id]);
    });

    it('lets exactly one of two concurrent operator.select creates win', async () => {
      const { projectId, token } = newProject();
      const replies = await Promise.all([
        create(projectId, token, { event: 'operator.select', target: newTarget() }),
        create(projectId, token, { event: 'operator.select', target: newTarget() }),
      ]);
      expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409]);
      expect(subscriptionsOf(await t.api('GET', `/${projectId}/subscriptions`, { token }))).toHaveLength(1);
    });
  });
});

describe('GET /{projectId}/subscriptions', () => {
  it('lists the project’s subscriptions, oldest first, without secrets', async () => {
    const { projectId, token } = newProject();
    const other = newProject();
    const first = await createOk(projectId, token, 'request.create');
    const second = await createOk(projectId, token, 'operator.select');
    await createOk(other.projectId, other.token);

    const reply = await t.api('GET', `/${projectId}/subscriptions`, { token });

    expect(reply.status).toBe(200);
    const list = subscriptionsOf(reply);
    const { secret: _firstSecret, ...firstView } = first;
    const { secret: _secondSecret, ...secondView } = second;
    expect(list).toEqual([firstView, secondView]);
    for (const item of list) expect(Object.keys(item).sort()).toEqual(SUBSCRIPTION_VIEW_KEYS);
    expect(reply.text).not.toContain('whsec_');
  });

  it('answers an empty array for a project without subscriptions', async () => {
    const { projectId, token } = newProject();
    const reply = await t.api('GET', `/${projectId}/subscriptions`, { token });
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('[]');
  });
});

describe('GET /{projectId}/subscriptions/{id}', () => {
  it('answers 200 with the subscription, without its secret', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...view } = await createOk(projectId, token);

    const reply = await t.api('GET', `/${projectId}/subscriptions/${view._id}`, { token });

    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(view);
    expect(reply.body).not.toHaveProperty('secret');
    expect(reply.headers.get('x-hook-secret')).toBeNull();
  });

  it('answers 404 for another project’s subscription asked through one’s own project', async () => {
    const mine = newProject();
    const theirs = newProject();
    const foreign = await createOk(theirs.projectId, theirs.token);

    const reply = await t.api('GET', `/${mine.projectId}/subscriptions/${foreign._id}`, { token: mine.token });

    expectError(reply, 404, /not found/);
    expect(reply.text).not.toContain(foreign.target);
  });

  it('answers 404 for an unknown id', async () => {
    const { projectId, token } = newProject();
    const reply = await t.api('GET', `/${projectId}/subscriptions/${randomBytes(12).toString('hex')}`, { token });
    expectError(reply, 404, /not found/);
  });
});

describe('PUT /{projectId}/subscriptions/{id}', () => {
  it('changes only the target, advances updatedAt and keeps createdAt', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...created } = await createOk(projectId, token);
    const target = newTarget();

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, { token, body: { target } });

    expect(reply.status).toBe(200);
    const updated = subscriptionOf(reply);
    expect(updated).toEqual({ ...created, target, updatedAt: expect.stringMatching(ISO_TIMESTAMP) });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
    expect(updated).not.toHaveProperty('secret');
    const read = await t.api('GET', `/${projectId}/subscriptions/${created._id}`, { token });
    expect(read.body).toEqual(updated);
  });

  it('changes the event, and moves the uniqueness of (event, target) with it', async () => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token, 'request.create');

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, {
      token,
      body: { event: 'request.close' },
    });

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ _id: created._id, event: 'request.close', target: created.target });
    const recreated = await create(projectId, token, { event: 'request.create', target: created.target });
    expect(recreated.status).toBe(200);
    expect(recreated.body._id).not.toBe(created._id);
    // The pair moved with the subscription: creating it again answers with the moved one.
    const duplicate = await create(projectId, token, { event: 'request.close', target: created.target });
    expect(duplicate.status).toBe(200);
    expect(duplicate.body._id).toBe(created._id);
  });

  it('refuses to move onto an (event, target) pair that already exists: 409, nothing changed', async () => {
    const { projectId, token } = newProject();
    const taken = await createOk(projectId, token, 'request.create');
    const { secret: _secret, ...moving } = await createOk(projectId, token, 'request.create');

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${moving._id}`, {
      token,
      body: { target: taken.target },
    });

    expectError(reply, 409, /already exists/);
    expect((await t.api('GET', `/${projectId}/subscriptions/${moving._id}`, { token })).body).toEqual(moving);
    // The old pair still belongs to it: creating it again answers with the unmoved subscription.
    expect((await create(projectId, token, { event: 'request.create', target: moving.target })).body._id).toBe(moving._id);
  });

  it('refuses to turn a subscription into a second operator.select: 409', async () => {
    const { projectId, token } = newProject();
    await createOk(projectId, token, 'operator.select');
    const other = await createOk(projectId, token, 'request.create');

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${other._id}`, {
      token,
      body: { event: 'operator.select' },
    });

    expectError(reply, 409, /operator\.select/);
  });

  it.each([
    ['secret', { secret: 'whsec_mine' }],
    ['createdBy', { createdBy: 'someone-else' }],
    ['foo', { target: 'http://127.0.0.1:9/other', foo: 1 }],
  ])('refuses the unknown field %s: 400 naming it, nothing changed', async (field, body) => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...created } = await createOk(projectId, token);

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, { token, body });

    expectFieldError(reply, field, /unknown field/);
    expect((await t.api('GET', `/${projectId}/subscriptions/${created._id}`, { token })).body).toEqual(created);
  });

  it('refuses a status other than active or disabled: 400 naming status, nothing changed', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...created } = await createOk(projectId, token);

    const reply = await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, { token, body: { status: 'x' } });

    expectFieldError(reply, 'status', /active.*disabled/);
    expect((await t.api('GET', `/${projectId}/subscriptions/${created._id}`, { token })).body).toEqual(created);
  });

  it('disables and re-enables a subscription through status', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...created } = await createOk(projectId, token);
    const path = `/${projectId}/subscriptions/${created._id}`;

    const disabled = await t.api('PUT', path, { token, body: { status: 'disabled' } });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toEqual({
      ...created,
      status: 'disabled',
      disabledReason: expect.any(String),
      updatedAt: expect.stringMatching(ISO_TIMESTAMP),
    });

    const enabled = await t.api('PUT', path, { token, body: { status: 'active' } });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toEqual({ ...created, updatedAt: expect.stringMatching(ISO_TIMESTAMP) });
  });

  it.each([
    ['event', { event: 'foo.bar' }],
    ['target', { target: 'http://10.0.0.1/hook' }],
    ['target', { target: 'ftp://127.0.0.1/hook' }],
  ])('refuses an invalid %s: 400', async (field, body) => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token);
    expectFieldError(await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, { token, body }), field);
  });

  it('refuses an empty change and a body that is not JSON', async () => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token);
    const path = `/${projectId}/subscriptions/${created._id}`;
    expectFieldError(await t.api('PUT', path, { token, body: {} }), 'body', /nothing to update/);
    expectFieldError(await t.api('PUT', path, { token, rawBody: 'target=x' }), 'body', /invalid JSON/);
  });

  it('answers 404 for an unknown id and never creates it', async () => {
    const { projectId, token } = newProject();
    const path = `/${projectId}/subscriptions/${randomBytes(12).toString('hex')}`;

    const reply = await t.api('PUT', path, { token, body: { event: 'request.create', target: newTarget() } });

    expectError(reply, 404, /not found/);
    expectError(await t.api('GET', path, { token }), 404);
    expect(subscriptionsOf(await t.api('GET', `/${projectId}/subscriptions`, { token }))).toEqual([]);
  });

  it('answers 404 for another project’s subscription and leaves it alone', async () => {
    const mine = newProject();
    const theirs = newProject();
    const { secret: _secret, ...foreign } = await createOk(theirs.projectId, theirs.token);

    const reply = await t.api('PUT', `/${mine.projectId}/subscriptions/${foreign._id}`, {
      token: mine.token,
      body: { target: newTarget() },
    });

    expectError(reply, 404);
    const read = await t.api('GET', `/${theirs.projectId}/subscriptions/${foreign._id}`, { token: theirs.token });
    expect(read.body).toEqual(foreign);
  });
});

describe('DELETE /{projectId}/subscriptions/{id}', () => {
  it('answers 200 with the deleted subscription; then it is gone', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...created } = await createOk(projectId, token);
    const path = `/${projectId}/subscriptions/${created._id}`;

    const reply = await t.api('DELETE', path, { token });

    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(created);
    expectError(await t.api('GET', path, { token }), 404);
    expect(subscriptionsOf(await t.api('GET', `/${projectId}/subscriptions`, { token }))).toEqual([]);
    expectError(await t.api('DELETE', path, { token }), 404, /not found/);
  });

  it('frees the (event, target) pair, so the same subscription can be created again', async () => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token, 'request.create');
    expect((await t.api('DELETE', `/${projectId}/subscriptions/${created._id}`, { token })).status).toBe(200);

    const again = await createOk(projectId, token, 'request.create', created.target);

    expect(again._id).not.toBe(created._id);
  });

  it('frees the project’s operator.select slot', async () => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token, 'operator.select');
    expect((await t.api('DELETE', `/${projectId}/subscriptions/${created._id}`, { token })).status).toBe(200);
    await createOk(projectId, token, 'operator.select');
  });

  it('answers 404 for another project’s subscription and leaves it alone', async () => {
    const mine = newProject();
    const theirs = newProject();
    const foreign = await createOk(theirs.projectId, theirs.token);

    expectError(await t.api('DELETE', `/${mine.projectId}/subscriptions/${foreign._id}`, { token: mine.token }), 404);

    const read = await t.api('GET', `/${theirs.projectId}/subscriptions/${foreign._id}`, { token: theirs.token });
    expect(read.status).toBe(200);
  });
});

describe('authentication (401) and authorization (403)', () => {
  const forge = (header: object, claims: object, signature = ''): string =>
    [header, claims].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + `.${signature}`;

  const listAs = (projectId: string, authorization: string | undefined) =>
    callWithAuthorization(t.stack.apiUrl, `/${projectId}/subscriptions`, authorization);

  const unauthorized = { status: 401, body: { success: false, msg: expect.stringMatching(/\S/) } };

  it('answers 401 without an Authorization header', async () => {
    const { projectId } = newProject();
    expect(await listAs(projectId, undefined)).toEqual({
      status: 401,
      body: { success: false, msg: 'Missing or malformed Authorization header' },
    });
  });

  it('answers 401 to a Basic Authorization header', async () => {
    const { projectId } = newProject();
    expect(await listAs(projectId, 'Basic x')).toEqual(unauthorized);
  });

  it('answers 401 to a token that is not a JWT', async () => {
    const { projectId } = newProject();
    expect(await listAs(projectId, 'Bearer not-a-jwt')).toEqual(unauthorized);
  });

  it('answers 401 to an expired token', async () => {
    const { projectId } = newProject();
    const expired = signToken({ sub: 'u', projects: { [projectId]: 'owner' } }, t.jwtSecret, -60);
    expect(await listAs(projectId, `Bearer ${expired}`)).toEqual({
      status: 401,
      body: { success: false, msg: 'Token expired' },
    });
  });

  it('answers 401 to a token signed with another secret', async () => {
    const { projectId } = newProject();
    const forged = signToken({ sub: 'u', projects: { [projectId]: 'owner' } }, 'another-secret');
    expect(await listAs(projectId, `Bearer ${forged}`)).toEqual({
      status: 401,
      body: { success: false, msg: 'Invalid token signature' },
    });
  });

  it('answers 401 to an unsigned alg:none token', async () => {
    const { projectId } = newProject();
    const now = Math.floor(Date.now() / 1000);
    const unsigned = forge({ alg: 'none', typ: 'JWT' }, { sub: 'u', projects: { [projectId]: 'owner' }, exp: now + 600 });
    expect(await listAs(projectId, `Bearer ${unsigned}`)).toEqual(unauthorized);
  });

  it('answers 401 to a correctly signed token without exp', async () => {
    const { projectId } = newProject();
    const unsigned = forge({ alg: 'HS256', typ: 'JWT' }, { sub: 'u', projects: { [projectId]: 'owner' } }).slice(0, -1);
    const token = `${unsigned}.${createHmac('sha256', t.jwtSecret).update(unsigned).digest('base64url')}`;
    expect(await listAs(projectId, `Bearer ${token}`)).toEqual(unauthorized);
  });

  it('accepts Tiledesk’s "JWT <token>" form', async () => {
    const { projectId, token } = newProject();
    expect(await listAs(projectId, `JWT ${token}`)).toEqual({ status: 200, body: [] });
  });

  it('answers 401 on every route, before looking at the request', async () => {
    const { projectId } = newProject();
    const id = randomBytes(12).toString('hex');
    const replies = await Promise.all([
      t.api('POST', `/${projectId}/subscriptions`, { token: null, body: { event: 'foo.bar' } }),
      t.api('GET', `/${projectId}/subscriptions/${id}`, { token: null }),
      t.api('PUT', `/${projectId}/subscriptions/${id}`, { token: null, body: { status: 'x' } }),
      t.api('DELETE', `/${projectId}/subscriptions/${id}`, { token: null }),
      t.api('GET', `/${projectId}/subscriptions/${id}/logs`, { token: null }),
      t.api('GET', `/${projectId}/subscriptions/history`, { token: null }),
      t.api('GET', '/events', { token: null }),
    ]);
    for (const reply of replies) expectError(reply, 401);
  });

  it('answers 403 to an agent of the project', async () => {
    const { projectId, token: ownerToken } = newProject();
    const created = await createOk(projectId, ownerToken);
    const agent = t.tokenFor({ [projectId]: 'agent' }, 'agent-user');

    expectError(await t.api('GET', `/${projectId}/subscriptions`, { token: agent }), 403, new RegExp(projectId));
    expectError(await create(projectId, agent, { event: 'request.create', target: newTarget() }), 403);
    expectError(await t.api('DELETE', `/${projectId}/subscriptions/${created._id}`, { token: agent }), 403);
    expect((await t.api('GET', `/${projectId}/subscriptions/${created._id}`, { token: ownerToken })).status).toBe(200);
  });

  it('answers 403 to the owner of another project', async () => {
    const mine = newProject();
    const theirs = newProject();
    await createOk(theirs.projectId, theirs.token);

    expectError(await t.api('GET', `/${theirs.projectId}/subscriptions`, { token: mine.token }), 403);
    expectError(await create(theirs.projectId, mine.token, { event: 'request.create', target: newTarget() }), 403);
  });

  it('answers 403 to a valid token without any project', async () => {
    const { projectId } = newProject();
    expectError(await t.api('GET', `/${projectId}/subscriptions`), 403);
  });

  it('lets the platform token manage any project', async () => {
    const { projectId, token } = newProject();
    const { secret: _secret, ...existing } = await createOk(projectId, token);
    const platform = t.platformToken();

    const list = await t.api('GET', `/${projectId}/subscriptions`, { token: platform });
    expect(list.status).toBe(200);
    expect(subscriptionsOf(list)).toEqual([existing]);

    const created = await create(projectId, platform, { event: 'lead.create', target: newTarget() });
    expect(created.status).toBe(200);
    expect(created.body.createdBy).toBe('tiledesk-platform');
  });
});

describe('GET /events', () => {
  it('answers 200 with the event catalog and the refinement patterns', async () => {
    const reply = await t.api('GET', '/events');

    expect(reply.status).toBe(200);
    const catalog = reply.body as { events: { event: string; description: string }[]; refinements: { pattern: string }[] };
    const events = catalog.events.map((entry) => entry.event);
    expect(events).toEqual(expect.arrayContaining(['request.create', 'request.close', 'message.create', 'event.emit', 'operator.select']));
    for (const entry of catalog.events) expect(entry.description).toEqual(expect.any(String));
    expect(catalog.refinements.map((entry) => entry.pattern)).toEqual(
      expect.arrayContaining(['message.create.request.channel.{name}', 'event.emit.{name}']),
    );
  });

  it('needs only a valid token, no project role', async () => {
    const agent = t.tokenFor({ someProject: 'agent' });
    expect((await t.api('GET', '/events', { token: agent })).status).toBe(200);
  });
});

describe('GET /{projectId}/subscriptions/{id}/logs', () => {
  it('answers an empty first page for a fresh subscription', async () => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token);

    const reply = await t.api('GET', `/${projectId}/subscriptions/${created._id}/logs`, { token });

    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ items: [], nextCursor: null });
  });

  it('answers 404 for an unknown subscription and for another project’s', async () => {
    const { projectId, token } = newProject();
    const theirs = newProject();
    const foreign = await createOk(theirs.projectId, theirs.token);

    expectError(await t.api('GET', `/${projectId}/subscriptions/${randomBytes(12).toString('hex')}/logs`, { token }), 404);
    expectError(await t.api('GET', `/${projectId}/subscriptions/${foreign._id}/logs`, { token }), 404);
  });

  it.each(BAD_PAGE_QUERIES)('refuses a bad %s (%s): 400', async (field, query, message) => {
    const { projectId, token } = newProject();
    const created = await createOk(projectId, token);
    expectFieldError(await t.api('GET', `/${projectId}/subscriptions/${created._id}/logs${query}`, { token }), field, message);
  });
});

describe('GET /{projectId}/subscriptions/history', () => {
  it('answers an empty page for a project without deliveries', async () => {
    const { projectId, token } = newProject();
    const reply = await t.api('GET', `/${projectId}/subscriptions/history`, { token });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { items: [], nextCursor: null } });
  });

  it.each(BAD_PAGE_QUERIES)('refuses a bad %s (%s): 400', async (field, query, message) => {
    const { projectId, token } = newProject();
    expectFieldError(await t.api('GET', `/${projectId}/subscriptions/history${query}`, { token }), field, message);
  });

  it('answers 403 to an agent of the project', async () => {
    const { projectId } = newProject();
    const agent = t.tokenFor({ [projectId]: 'agent' });
    expectError(await t.api('GET', `/${projectId}/subscriptions/history`, { token: agent }), 403);
  });
});

describe('attempt logs after real deliveries', () => {
  let receiver: Receiver;
  let project: { projectId: string; token: string };
  let subscriptionId: string;
  /** Both attempts, newest first, as the logs route lists them. */
  let attempts: Attempt[];
  const logsPath = () => `/${project.projectId}/subscriptions/${subscriptionId}/logs`;

  beforeAll(async () => {
    receiver = await startReceiver();
    project = newProject();
    subscriptionId = (await createOk(project.projectId, project.token, 'request.create', receiver.url))._id;
    const events = new EventBridgeClient({ endpoint: t.stack.awsEndpoint, region: 'us-east-1' });
    for (const requestId of ['r1', 'r2']) {
      await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: 'tiledesk',
              DetailType: 'request.create',
              Detail: JSON.stringify({ id_project: project.projectId, request_id: requestId }),
              EventBusName: t.stack.busName,
            },
          ],
        }),
      );
    }
    const all = await pollUntil(
      () => t.api('GET', logsPath(), { token: project.token }),
      (reply) => Array.isArray(reply.body.items) && reply.body.items.length === 2,
    );
    attempts = all.body.items as Attempt[];
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it('logs each delivered attempt, newest first', () => {
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['delivered', 'delivered']);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({
        projectId: project.projectId,
        subscriptionId,
        event: 'request.create',
        target: receiver.url,
        statusCode: 200,
        attempt: 1,
        attemptedAt: expect.stringMatching(ISO_TIMESTAMP),
      });
    }
    expect(attempts[0]!.logId > attempts[1]!.logId).toBe(true);
  });

  it('pages the logs with limit and nextCursor', async () => {
    const firstPage = await t.api('GET', `${logsPath()}?limit=1`, { token: project.token });
    expect(firstPage.status).toBe(200);
    expect(firstPage.body).toEqual({ items: [attempts[0]], nextCursor: expect.any(String) });

    const secondPage = await t.api('GET', `${logsPath()}?limit=1&cursor=${String(firstPage.body.nextCursor)}`, {
      token: project.token,
    });
    expect(secondPage.status).toBe(200);
    expect(secondPage.body.items).toEqual([attempts[1]]);
  });

  it('lists the same attempts in the project history', async () => {
    const history = await t.api('GET', `/${project.projectId}/subscriptions/history`, { token: project.token });
    expect({ status: history.status, body: history.body }).toEqual({ status: 200, body: { items: attempts, nextCursor: null } });
  });

  it('pages the history too: each page read whole from the table, payloads included', async () => {
    const historyPath = `/${project.projectId}/subscriptions/history`;
    const firstPage = await t.api('GET', `${historyPath}?limit=1`, { token: project.token });
    expect(firstPage.body).toEqual({ items: [attempts[0]], nextCursor: expect.any(String) });
    expect((firstPage.body.items as Attempt[])[0]!.payload).toEqual({ id_project: project.projectId, request_id: expect.stringMatching(/^r[12]$/) });

    const secondPage = await t.api('GET', `${historyPath}?limit=1&cursor=${String(firstPage.body.nextCursor)}`, { token: project.token });
    expect(secondPage.body.items).toEqual([attempts[1]]);
  });

  it('accepts a cursor only on the listing it came from', async () => {
    const firstPage = await t.api('GET', `${logsPath()}?limit=1`, { token: project.token });
    const reply = await t.api('GET', `/${project.projectId}/subscriptions/history?cursor=${String(firstPage.body.nextCursor)}`, {
      token: project.token,
    });
    expectFieldError(reply, 'cursor');
  });
});

describe('unknown routes', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/p1'],
    ['PATCH', '/p1/subscriptions/0123456789abcdef01234567'],
    ['POST', '/p1/subscriptions/0123456789abcdef01234567'],
    ['GET', '/p1/subscriptions/0123456789abcdef01234567/logs/extra'],
  ])('answers 404 to %s %s', async (method, path) => {
    const reply = await t.api(method, path, { token: t.tokenFor({ p1: 'owner' }) });
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ message: 'Not Found' });
  });
});

/** Calls `read` until `done` holds for its answer (deliveries are asynchronous). */
async function pollUntil(
  read: () => Promise<ApiReply>,
  done: (reply: ApiReply) => boolean,
  timeoutMs = 20_000,
): Promise<ApiReply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await read();
    if (done(reply)) return reply;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last answer ${reply.status} ${reply.text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
