import { parseAllowlist } from '../../lambdas/core/address-policy';
import { API } from '../../lambdas/core/settings';
import { ConflictError, NotFoundError, ValidationError } from '../../lambdas/core/errors';
import {
  SubscriptionDeps,
  SubscriptionRepository,
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  updateSubscription,
} from '../../lambdas/core/manage-subscriptions';
import { Subscription, toView } from '../../lambdas/core/subscription';
import { Resolver } from '../../lambdas/core/target-policy';
import { TestStack, startTestStack } from '../support/local-stack-harness';

/**
 * The subscription use cases over the real store: the DynamoDB adapter against dynalite, through
 * the local stack, so the project limit, idempotent creates, the conditional replace and the key
 * layout are the deployed ones rather than a fake's idea of them.
 */
let t: TestStack;
let repository: SubscriptionRepository;
let p1: string;
let p2: string;
let projects = 0;

beforeAll(async () => {
  t = await startTestStack();
  // The adapter builds its DynamoDB client at import, from the environment the stack sets.
  const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
  repository = new SubscriptionStore(t.stack.tableName);
});
afterAll(() => t.stop());

beforeEach(() => {
  // Each test has projects of its own in the shared table.
  p1 = `manage-${++projects}-a`;
  p2 = `manage-${projects}-b`;
});

const resolve: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    'hooks.example.com': ['93.184.216.34'],
    'other.example.com': ['1.1.1.1'],
    'intranet.example.com': ['10.0.0.7'],
  };
  const addresses = table[host];
  if (!addresses) throw new Error(`ENOTFOUND ${host}`);
  return addresses;
};

const T0 = new Date('2024-05-01T10:00:00.000Z');

function setUp(overrides: Partial<SubscriptionDeps> = {}): { deps: SubscriptionDeps; repository: SubscriptionRepository } {
  const deps: SubscriptionDeps = {
    repository,
    targetPolicy: { allowHttp: false, allowlist: parseAllowlist('') },
    resolve,
    subscriptionLimit: 100,
    now: () => T0,
    ...overrides,
  };
  return { deps, repository };
}

/** Catches what a promise rejects with, so tests can look at the error's fields. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('createSubscription', () => {
  it('returns the new subscription with its secret and stores it', async () => {
    const { deps, repository } = setUp();
    const { subscription: created } = await createSubscription(
      p1,
      { event: 'request.create', target: 'https://hooks.example.com/in' },
      'user-1',
      deps,
    );
    expect(created).toEqual<Subscription>({
      _id: expect.stringMatching(/^[0-9a-f]{24}$/),
      id_project: p1,
      event: 'request.create',
      target: 'https://hooks.example.com/in',
      createdBy: 'user-1',
      createdAt: T0.toISOString(),
      updatedAt: T0.toISOString(),
      status: 'active',
      secret: expect.stringMatching(/^whsec_/),
      // The store's claim on the (event, target) guard, never in a view.
      guardClaimId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      // Which write stored this version (lost answers tell by it), never in a view either.
      writeId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(toView(created)).not.toHaveProperty('guardClaimId');
    expect(toView(created)).not.toHaveProperty('writeId');
    expect(await repository.get(p1, created._id)).toEqual(created);
  });

  it('gives each subscription its own id and secret', async () => {
    const { deps } = setUp();
    const input = { event: 'request.create', target: 'https://hooks.example.com/in' };
    const { subscription: first } = await createSubscription(p1, input, 'user-1', deps);
    const { subscription: second } = await createSubscription(p1, { ...input, event: 'request.close' }, 'user-1', deps);
    expect(second._id).not.toBe(first._id);
    expect(second.secret).not.toBe(first.secret);
  });

  it.each([
    ['an http target', 'http://hooks.example.com/in'],
    ['a literal private address', 'https://10.0.0.1/in'],
    ['the metadata address', 'https://169.254.169.254/latest'],
    ['a host resolving to a private address', 'https://intranet.example.com/in'],
    ['an unresolvable host', 'https://nowhere.example.com/in'],
    ['credentials in the URL', 'https://user:pass@hooks.example.com/in'],
  ])('refuses %s with a ValidationError naming target', async (_label, target) => {
    const { deps, repository } = setUp();
    const error = await rejectionOf(createSubscription(p1, { event: 'request.create', target }, 'user-1', deps));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors).toEqual([{ field: 'target', message: expect.any(String) }]);
    expect(await repository.list(p1)).toEqual([]);
  });

  it('accepts http and allowlisted hosts when the policy says so', async () => {
    const { deps } = setUp({ targetPolicy: { allowHttp: true, allowlist: parseAllowlist('127.0.0.0/8,localhost') } });
    const { subscription: created } = await createSubscription(
      p1,
      { event: 'request.create', target: 'http://localhost:4000/in' },
      'user-1',
      deps,
    );
    expect(created.target).toBe('http://localhost:4000/in');
  });

  it("refuses a create over the project's limit, and stores nothing for it", async () => {
    const { deps, repository } = setUp({ subscriptionLimit: 1 });
    const { subscription: first } = await createSubscription(p1, { event: 'request.create', target: 'https://hooks.example.com/in' }, 'user-1', deps);
    // Another (event, target) pair, so the refusal is the limit's and not an idempotent answer.
    const error = await rejectionOf(createSubscription(p1, { event: 'request.close', target: 'https://other.example.com/in' }, 'user-1', deps));
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toMatch(/limit of 1 subscription/);
    expect((await repository.list(p1)).map((subscription) => subscription._id)).toEqual([first._id]);
    // Another project is not full.
    await expect(createSubscription(p2, { event: 'request.close', target: 'https://other.example.com/in' }, 'user-1', deps)).resolves.toBeDefined();
  });

  it('is idempotent, as Tiledesk: the same event and target again gives the existing subscription, secret included', async () => {
    const { deps } = setUp({ subscriptionLimit: 1 });
    const input = { event: 'request.create', target: 'https://hooks.example.com/in' };
    const first = await createSubscription(p1, input, 'user-1', deps);
    const again = await createSubscription(p1, input, 'user-2', deps);
    expect(first.created).toBe(true);
    expect(again).toEqual({ subscription: first.subscription, created: false });
    expect(again.subscription.secret).toMatch(/^whsec_/);
  });
});

describe('getSubscription and listSubscriptions', () => {
  it('finds a subscription only in its own project', async () => {
    const { deps } = setUp();
    const { subscription: created } = await createSubscription(
      p1,
      { event: 'request.create', target: 'https://hooks.example.com/in' },
      'user-1',
      deps,
    );
    await expect(getSubscription(p1, created._id, deps)).resolves.toEqual(created);
    await expect(getSubscription(p2, created._id, deps)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('throws NotFoundError for an unknown id', async () => {
    const { deps } = setUp();
    await expect(getSubscription(p1, '0123456789abcdef01234567', deps)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("lists the project's subscriptions without secrets", async () => {
    const { deps } = setUp();
    const target = 'https://hooks.example.com/in';
    const { subscription: mine } = await createSubscription(p1, { event: 'request.create', target }, 'user-1', deps);
    await createSubscription(p2, { event: 'request.create', target }, 'user-2', deps);
    const listed = await listSubscriptions(p1, deps);
    expect(listed).toEqual([toView(mine)]);
    expect(listed[0]).not.toHaveProperty('secret');
  });
});

describe('updateSubscription', () => {
  async function existing(deps: SubscriptionDeps): Promise<Subscription> {
    return (await createSubscription(p1, { event: 'request.create', target: 'https://hooks.example.com/in' }, 'user-1', deps)).subscription;
  }

  it('changes only the given field and returns the view', async () => {
    const { deps, repository } = setUp();
    const before = await existing(deps);
    const later = new Date(T0.getTime() + 60_000);
    const view = await updateSubscription(
      p1,
      before._id,
      { target: 'https://other.example.com/in' },
      { ...deps, now: () => later },
    );
    expect(view).toEqual({ ...toView(before), target: 'https://other.example.com/in', updatedAt: later.toISOString() });
    expect(view).not.toHaveProperty('secret');
    expect(await repository.get(p1, before._id)).toEqual({
      ...before,
      target: 'https://other.example.com/in',
      updatedAt: later.toISOString(),
      // A new claim on the new pair's guard.
      guardClaimId: expect.not.stringMatching(before.guardClaimId!),
      writeId: expect.not.stringMatching(before.writeId!),
    });
  });

  it('changes the event alone, keeping the target', async () => {
    const { deps } = setUp();
    const before = await existing(deps);
    const view = await updateSubscription(p1, before._id, { event: 'request.close' }, deps);
    expect(view.event).toBe('request.close');
    expect(view.target).toBe(before.target);
  });

  it('moves updatedAt strictly forward even when the clock has not', async () => {
    const { deps } = setUp();
    const before = await existing(deps);
    const first = await updateSubscription(p1, before._id, { event: 'request.close' }, deps);
    expect(first.updatedAt).toBe(new Date(T0.getTime() + 1).toISOString());
    const earlier = new Date(T0.getTime() - 3_600_000);
    const second = await updateSubscription(p1, before._id, { event: 'request.update' }, { ...deps, now: () => earlier });
    expect(Date.parse(second.updatedAt)).toBeGreaterThan(Date.parse(first.updatedAt));
    expect(second.createdAt).toBe(before.createdAt);
  });

  it.each([
    ['a literal private address', 'https://192.168.1.1/in'],
    ['a host resolving to a private address', 'https://intranet.example.com/in'],
    ['an http target', 'http://other.example.com/in'],
  ])('refuses %s as the new target and keeps the old one', async (_label, target) => {
    const { deps, repository } = setUp();
    const before = await existing(deps);
    const error = await rejectionOf(updateSubscription(p1, before._id, { target }, deps));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((entry) => entry.field)).toEqual(['target']);
    expect(await repository.get(p1, before._id)).toEqual(before);
  });

  it('never creates a subscription that does not exist', async () => {
    const { deps, repository } = setUp();
    await expect(
      updateSubscription(p1, '0123456789abcdef01234567', { event: 'request.close' }, deps),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await repository.list(p1)).toEqual([]);
  });

  it("does not update another project's subscription", async () => {
    const { deps, repository } = setUp();
    const before = await existing(deps);
    await expect(updateSubscription(p2, before._id, { event: 'request.close' }, deps)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await repository.get(p1, before._id)).toEqual(before);
  });
});

describe('deleteSubscription', () => {
  it('removes the subscription and returns it without its secret', async () => {
    const { deps, repository } = setUp();
    const { subscription: created } = await createSubscription(
      p1,
      { event: 'request.create', target: 'https://hooks.example.com/in' },
      'user-1',
      deps,
    );
    const deleted = await deleteSubscription(p1, created._id, deps);
    expect(deleted).toEqual(toView(created));
    expect(deleted).not.toHaveProperty('secret');
    expect(await repository.list(p1)).toEqual([]);
    await expect(getSubscription(p1, created._id, deps)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('throws NotFoundError for an unknown id', async () => {
    const { deps } = setUp();
    await expect(deleteSubscription(p1, '0123456789abcdef01234567', deps)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("the project history's deleted subscriptions", () => {
  it(`keeps the ${API.deletedSubscriptionsInHistory} most recently deleted, so create-and-delete cycles cannot grow every history read`, async () => {
    const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
    const store = new SubscriptionStore(t.stack.tableName);
    const deps = setUp().deps;
    const deleted: string[] = [];
    for (let n = 0; n < API.deletedSubscriptionsInHistory + 3; n++) {
      const { subscription } = await createSubscription(p1, { event: 'lead.create', target: `https://hooks.example.com/${n}` }, 'user-1', deps);
      await deleteSubscription(p1, subscription._id, deps);
      deleted.push(subscription._id);
    }
    const { subscription: live } = await createSubscription(p1, { event: 'lead.create', target: 'https://hooks.example.com/live' }, 'user-1', deps);

    const owners = await store.logOwners(p1);
    // Every live one, and the last deleted ones: the first three left the history (their logs
    // still expire with their TTL), and their markers are gone from the table.
    expect(new Set(owners)).toEqual(new Set([live._id, ...deleted.slice(3)]));
    const { dynamoDocumentClient, queryAll } = await import('../../lambdas/adapters/aws-clients');
    const markers = await queryAll(dynamoDocumentClient, {
      TableName: t.stack.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :marker)',
      ExpressionAttributeValues: { ':pk': `PROJECT#${p1}`, ':marker': 'LOGGED#' },
    });
    expect(markers).toHaveLength(API.deletedSubscriptionsInHistory);
  }, 60_000);
});

describe("the fan-out's lookup: a topic's subscribers, from their guards", () => {
  const create = async (event: string, target: string, projectId = p1): Promise<Subscription> =>
    (await createSubscription(projectId, { event, target }, 'user-1', setUp().deps)).subscription;
  const store = async () => {
    const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
    return new SubscriptionStore(t.stack.tableName);
  };

  it("two updates there and back (T0 → T1, then T1 → T0 while the first still releases T0's guard) leave the subscription guarded at T0", async () => {
    const { dynamoDocumentClient } = await import('../../lambdas/adapters/aws-clients');
    const { SubscriptionStore, subscriptionKeys } = await import('../../lambdas/adapters/subscription-store');
    const t0 = 'https://hooks.example.com/there';
    const t1 = 'https://other.example.com/back';
    const subscription = await create('request.create', t0);
    // The first update's release of T0's guard waits until the second update has answered.
    let reachedRelease!: () => void;
    const atRelease = new Promise<void>((resolve) => (reachedRelease = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const t0Guard = subscriptionKeys.guard('request.create', t0);
    const paused = new Proxy(dynamoDocumentClient, {
      get(target, name, receiver) {
        if (name !== 'send') return Reflect.get(target, name, receiver);
        return async (command: { constructor: { name: string }; input: { Key?: Record<string, unknown> } }) => {
          if (command.constructor.name === 'DeleteCommand' && command.input.Key?.sk === t0Guard) {
            reachedRelease();
            await gate;
          }
          return target.send(command as never);
        };
      },
    });
    const first = new SubscriptionStore(t.stack.tableName, paused);
    const second = await store();
    const moved = { ...subscription, target: t1, updatedAt: '2024-05-01T10:01:00.000Z' };
    const there = first.replace(subscription, moved);
    await atRelease;
    const stored = (await second.get(p1, subscription._id))!;
    await second.replace(stored, { ...stored, target: t0, updatedAt: '2024-05-01T10:02:00.000Z' });
    openGate();
    await there;

    expect((await second.get(p1, subscription._id))!.target).toBe(t0);
    // Still found by the fan-out, and still the one subscription of its pair.
    expect(await second.findByTopic(p1, 'request.create')).toEqual([subscription._id]);
    const again = await createSubscription(p1, { event: 'request.create', target: t0 }, 'user-1', setUp().deps);
    expect(again).toMatchObject({ created: false, subscription: { _id: subscription._id } });
  });

  it("a guard left by an update that failed before releasing it goes to the next subscription of that pair, not a 409 for good", async () => {
    const { dynamoDocumentClient } = await import('../../lambdas/adapters/aws-clients');
    const { subscriptionItemKey, subscriptionKeys } = await import('../../lambdas/adapters/subscription-store');
    const { PutCommand, UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const t0 = 'https://hooks.example.com/left';
    const moved = await create('request.create', t0);
    // Its update to another target wrote the item, then failed before releasing T0's guard
    // (claimed long ago, so no create is in flight on it).
    await dynamoDocumentClient.send(
      new PutCommand({ TableName: t.stack.tableName, Item: { ...subscriptionItemKey(p1, moved._id), ...moved, target: 'https://other.example.com/now' } }),
    );
    await dynamoDocumentClient.send(
      new UpdateCommand({
        TableName: t.stack.tableName,
        Key: { pk: subscriptionKeys.project(p1), sk: subscriptionKeys.guard('request.create', t0) },
        UpdateExpression: 'SET claimedAt = :long_ago',
        ExpressionAttributeValues: { ':long_ago': 0 },
      }),
    );
    const next = await createSubscription(p1, { event: 'request.create', target: t0 }, 'user-1', setUp().deps);
    expect(next.created).toBe(true);
    expect(next.subscription._id).not.toBe(moved._id);
  });

  it('lists every subscription of the topic in the project and nothing else, as soon as each change has answered', async () => {
    const subscriptions = await store();
    const first = await create('project_user.update', 'https://hooks.example.com/a');
    const second = await create('project_user.update', 'https://hooks.example.com/b');
    // A refinement whose name starts with the topic's, another topic, another project.
    await create('project_user.update.agent', 'https://hooks.example.com/a');
    await create('request.create', 'https://hooks.example.com/a');
    await create('project_user.update', 'https://hooks.example.com/a', p2);
    expect((await subscriptions.findByTopic(p1, 'project_user.update')).sort()).toEqual([first._id, second._id].sort());

    // An update that moves the target, then one that moves the event: listed once, then gone.
    await updateSubscription(p1, first._id, { target: 'https://other.example.com/a' }, setUp().deps);
    expect((await subscriptions.findByTopic(p1, 'project_user.update')).sort()).toEqual([first._id, second._id].sort());
    await updateSubscription(p1, first._id, { event: 'request.close' }, setUp().deps);
    expect(await subscriptions.findByTopic(p1, 'project_user.update')).toEqual([second._id]);
    expect(await subscriptions.findByTopic(p1, 'request.close')).toEqual([first._id]);
    await deleteSubscription(p1, second._id, setUp().deps);
    expect(await subscriptions.findByTopic(p1, 'project_user.update')).toEqual([]);
  });

  it('reads a family (an event and the topics that extend it) in one query, by topic', async () => {
    const subscriptions = await store();
    const base = await create('message.create', 'https://hooks.example.com/all');
    const whatsapp = await create('message.create.channel.whatsapp', 'https://hooks.example.com/wa');
    const whatsappToo = await create('message.create.channel.whatsapp', 'https://hooks.example.com/wa2');
    const requestChannel = await create('message.create.request.channel.telegram', 'https://hooks.example.com/tg');
    await create('request.create', 'https://hooks.example.com/all');
    await create('message.create', 'https://hooks.example.com/all', p2);
    const family = await subscriptions.findByTopicFamily(p1, 'message.create');
    expect(Object.fromEntries([...family].map(([topic, ids]) => [topic, ids.sort()]))).toEqual({
      'message.create': [base._id],
      'message.create.channel.whatsapp': [whatsapp._id, whatsappToo._id].sort(),
      'message.create.request.channel.telegram': [requestChannel._id],
    });
    expect(await subscriptions.findByTopicFamily(p1, 'lead.create')).toEqual(new Map());
  });

  it('a delete retried after it removed the item and counted it off, but not the guard, releases the guard and counts nothing off again', async () => {
    const subscriptions = await store();
    const { dynamoDocumentClient } = await import('../../lambdas/adapters/aws-clients');
    const { subscriptionItemKey, subscriptionKeys } = await import('../../lambdas/adapters/subscription-store');
    const { DeleteCommand, GetCommand, UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const count = async () =>
      (await dynamoDocumentClient.send(new GetCommand({ TableName: t.stack.tableName, Key: { pk: subscriptionKeys.project(p1), sk: subscriptionKeys.counter }, ConsistentRead: true })))
        .Item?.subscriptionCount;
    // One that stays, so a count taken off twice would show (the count never goes below 0).
    await create('request.create', 'https://hooks.example.com/stays');
    const orphan = await create('request.create', 'https://hooks.example.com/orphan');
    expect(await count()).toBe(2);
    // The first delete's item removal and count-off, then a failure before the guard's release.
    await dynamoDocumentClient.send(new DeleteCommand({ TableName: t.stack.tableName, Key: subscriptionItemKey(p1, orphan._id) }));
    await dynamoDocumentClient.send(
      new UpdateCommand({
        TableName: t.stack.tableName,
        Key: { pk: subscriptionKeys.project(p1), sk: subscriptionKeys.counter },
        UpdateExpression: 'ADD subscriptionCount :minus',
        ExpressionAttributeValues: { ':minus': -1 },
      }),
    );
    expect(await subscriptions.findByTopic(p1, 'request.create')).toContain(orphan._id);

    // Its retry (and any other DELETE of the id) finds no item: it releases the guard and counts
    // nothing off, since only the DeleteItem that removed the item does (a loop of such retries
    // once let a project past its limit).
    expect(await subscriptions.delete(p1, orphan._id)).toBeUndefined();
    expect(await subscriptions.delete(p1, orphan._id)).toBeUndefined();
    expect(await subscriptions.findByTopic(p1, 'request.create')).not.toContain(orphan._id);
    expect(await count()).toBe(1);
    // The same event and target can be subscribed again, as a new subscription.
    expect((await create('request.create', 'https://hooks.example.com/orphan'))._id).not.toBe(orphan._id);
  });

  it('a delete also releases an older guard an update could not release', async () => {
    const subscriptions = await store();
    const { dynamoDocumentClient } = await import('../../lambdas/adapters/aws-clients');
    const { subscriptionKeys } = await import('../../lambdas/adapters/subscription-store');
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const moved = await create('request.create', 'https://hooks.example.com/moved');
    // What an update from request.close that failed before releasing its old guard leaves.
    await dynamoDocumentClient.send(
      new PutCommand({
        TableName: t.stack.tableName,
        Item: { pk: subscriptionKeys.project(p1), sk: subscriptionKeys.guard('request.close', moved.target), subscriptionId: moved._id, claimedAt: Date.now() },
      }),
    );
    expect(await subscriptions.findByTopic(p1, 'request.close')).toEqual([moved._id]);
    await deleteSubscription(p1, moved._id, setUp().deps);
    expect(await subscriptions.findByTopic(p1, 'request.close')).toEqual([]);
    expect(await subscriptions.findByTopic(p1, 'request.create')).toEqual([]);
  });

  it('finds the operator.select hook by its single guard', async () => {
    const subscriptions = await store();
    const hook = await create('operator.select', 'https://hooks.example.com/select');
    expect(await subscriptions.findByTopic(p1, 'operator.select')).toEqual([hook._id]);
    expect(await subscriptions.findByTopic(p2, 'operator.select')).toEqual([]);
  });

  it('asks DynamoDB for a strongly consistent read of the table, never an index (which lags on AWS)', async () => {
    const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
    const { dynamoDocumentClient } = await import('../../lambdas/adapters/aws-clients');
    const sent: Record<string, unknown>[] = [];
    // What the SDK sends, after the document client's marshalling: recorded by a middleware.
    dynamoDocumentClient.middlewareStack.add(
      (next) => async (args) => {
        sent.push(args.input as Record<string, unknown>);
        return next(args);
      },
      { step: 'initialize', name: 'recordQueriesForTest' },
    );
    try {
      // The fan-out's read (a family) and operator.select's (one topic).
      await new SubscriptionStore(t.stack.tableName).findByTopicFamily(p1, 'message.create');
      await new SubscriptionStore(t.stack.tableName).findByTopic(p1, 'request.create');
    } finally {
      dynamoDocumentClient.middlewareStack.remove('recordQueriesForTest');
    }
    expect(sent).toHaveLength(2);
    for (const input of sent) {
      expect(input).toMatchObject({ ConsistentRead: true });
      expect(input).not.toHaveProperty('IndexName');
    }
  });
});
