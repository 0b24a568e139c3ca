import {
  Subscription,
  SubscriptionView,
  createSubscriptionSchema,
  idSchema,
  newSigningSecret,
  newSubscriptionId,
  toView,
  updateSubscriptionSchema,
} from '../../../lambdas/core/subscription';

const target = 'https://hooks.example.com/tiledesk';

describe('createSubscriptionSchema', () => {
  it('accepts an event and a target', () => {
    expect(createSubscriptionSchema.parse({ event: 'request.create', target })).toEqual({
      event: 'request.create',
      target,
    });
  });

  it('accepts refinements and operator.select', () => {
    expect(createSubscriptionSchema.safeParse({ event: 'event.emit.typing.start', target }).success).toBe(true);
    expect(createSubscriptionSchema.safeParse({ event: 'operator.select', target }).success).toBe(true);
  });

  it.each([
    ['an unknown field', { event: 'request.create', target, secret: 'whsec_mine' }, 'secret'],
    ['an unknown event', { event: 'request.created', target }, 'event'],
    ['a missing event', { target }, 'event'],
    ['a missing target', { event: 'request.create' }, 'target'],
    ['an empty target', { event: 'request.create', target: '' }, 'target'],
    ['a too long target', { event: 'request.create', target: `${target}/${'a'.repeat(2048)}` }, 'target'],
    ['a non-string event', { event: 42, target }, 'event'],
  ])('refuses %s, naming the field', (_label, body, field) => {
    const result = createSubscriptionSchema.safeParse(body);
    expect(result.success).toBe(false);
    const named = result.error?.issues.flatMap((issue) => [
      ...issue.path.map(String),
      ...('keys' in issue ? issue.keys : []),
    ]);
    expect(named).toContain(field);
  });
});

describe('updateSubscriptionSchema', () => {
  it.each([
    { event: 'request.close' },
    { target },
    { event: 'message.create.request.channel.telegram', target },
    { status: 'disabled' },
    { status: 'active' },
  ])(
    'accepts %p',
    (body) => {
      expect(updateSubscriptionSchema.parse(body)).toEqual(body);
    },
  );

  it.each([
    ['an empty body', {}],
    ['an unknown field', { secret: 'whsec_mine' }],
    ['an unknown status', { status: 'paused' }],
    ['an unknown field beside a known one', { target, id_project: 'other' }],
    ['an unknown event', { event: 'foo' }],
    ['a null target', { target: null }],
  ])('refuses %s', (_label, body) => {
    expect(updateSubscriptionSchema.safeParse(body).success).toBe(false);
  });
});

describe('idSchema', () => {
  it('accepts a Mongo ObjectId and short token-safe ids', () => {
    expect(idSchema.safeParse('5f2b5c1e9d3a4b0017e6a1c2').success).toBe(true);
    expect(idSchema.safeParse('project_1-a').success).toBe(true);
  });

  it.each(['', 'a/b', '../x', 'a b', 'x'.repeat(65)])('refuses %p', (id) => {
    expect(idSchema.safeParse(id).success).toBe(false);
  });
});

describe('newSigningSecret', () => {
  it('is whsec_ followed by the base64 of 32 bytes', () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    expect(key).toHaveLength(32);
    expect(key.toString('base64')).toBe(secret.slice('whsec_'.length));
  });

  it('is different every time', () => {
    const secrets = new Set(Array.from({ length: 200 }, newSigningSecret));
    expect(secrets.size).toBe(200);
  });
});

describe('newSubscriptionId', () => {
  it('is 24 lower-case hex characters, like a Mongo ObjectId, and unique', () => {
    const ids = Array.from({ length: 200 }, newSubscriptionId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(200);
  });

  it('passes the path id schema', () => {
    expect(idSchema.safeParse(newSubscriptionId()).success).toBe(true);
  });
});

describe('toView', () => {
  const view: SubscriptionView = {
    _id: '0123456789abcdef01234567',
    id_project: 'p1',
    event: 'request.create',
    target,
    createdBy: 'user-1',
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-02T00:00:00.000Z',
    status: 'disabled',
    disabledReason: 'target answered 410 Gone',
  };
  const stored: Subscription = { ...view, secret: 'whsec_c2VjcmV0' };

  it('keeps every field but the secret', () => {
    const result = toView(stored);
    expect(result).toEqual(view);
    expect(result).not.toHaveProperty('secret');
    expect(JSON.stringify(result)).not.toContain(stored.secret);
  });

  it('leaves the stored subscription untouched', () => {
    toView(stored);
    expect(stored.secret).toBe('whsec_c2VjcmV0');
  });
});
