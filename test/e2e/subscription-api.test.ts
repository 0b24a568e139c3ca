import { randomBytes } from 'node:crypto';
import {
  ISO_TIMESTAMP,
  OBJECT_ID,
  SUBSCRIPTION_VIEW_KEYS,
  expectError,
  expectFieldError,
  subscriptionOf,
  subscriptionsOf,
} from '../support/api-expectations';
import { apiProjects } from '../support/api-projects';
import { TestStack, startTestStack } from '../support/local-stack-harness';
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

const { newProject, newTarget, create, createOk } = apiProjects(() => t);



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
      expectFieldError(reply, 'body', /^empty: a JSON object is expected$/);
      expect(reply.body.msg).toBe('invalid body: the body is empty; send a JSON object');
      // The same for a body of blanks (curl -d '').
      expectFieldError(await t.api('POST', `/${projectId}/subscriptions`, { token, rawBody: ' ' }), 'body', /^empty/);
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
