import { parseAllowlist } from '../../lambdas/core/address-policy';
import { ConflictError } from '../../lambdas/core/errors';
import { SubscriptionDeps, SubscriptionRepository, createSubscription, deleteSubscription, updateSubscription } from '../../lambdas/core/manage-subscriptions';
import { Subscription } from '../../lambdas/core/subscription';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { clientLosingFirstAnswer } from '../support/lost-answer';

/**
 * Conditional writes whose answer is lost after DynamoDB applied them (a timeout, a 500 after the
 * write): the SDK's own retry sends the same request again, finds the write and fails the
 * condition. The writer must still know the write is its own.
 */
let t: TestStack;
let runs = 0;
let p1: string;
let repository: SubscriptionRepository;
beforeAll(async () => {
  t = await startTestStack();
  // The adapter builds its DynamoDB client at import, from the environment the stack sets.
  const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
  repository = new SubscriptionStore(t.stack.tableName);
});
afterAll(() => t.stop());
beforeEach(() => {
  p1 = `lost-${++runs}`;
});

const T0 = new Date('2024-05-01T10:00:00.000Z');

function setUp(overrides: Partial<SubscriptionDeps> = {}): { deps: SubscriptionDeps } {
  return {
    deps: {
      repository,
      targetPolicy: { allowHttp: false, allowlist: parseAllowlist('') },
      resolve: async () => ['93.184.216.34'],
      subscriptionLimit: 100,
      now: () => T0,
      ...overrides,
    },
  };
}

const putsMarker = (prefix: string) => (operation: string, input: string) => operation === 'PutItem' && input.includes(`"${prefix}`);

describe('markers written on condition that they are new', () => {
  it("ingest: the request is still new to its writer (before, it was taken for Tiledesk's retry and never published)", async () => {
    const { IngestDedupeStore } = await import('../../lambdas/adapters/ingest-dedupe-store');
    const { client, lostAnswers } = clientLosingFirstAnswer(putsMarker('INGEST#'));
    const hash = `lost-${++runs}`;
    expect(await new IngestDedupeStore(t.stack.tableName, 300, client).claim(hash)).toBe(true);
    expect(lostAnswers()).toBe(1);
    // Tiledesk's own retry of the same bytes is still refused.
    expect(await new IngestDedupeStore(t.stack.tableName, 300).claim(hash)).toBe(false);
  });

  it("ingest: a marker whose write failed for its writer (the read-back failing too) is taken back, so Tiledesk's retry is published", async () => {
    const { IngestDedupeStore } = await import('../../lambdas/adapters/ingest-dedupe-store');
    const { client } = clientLosingFirstAnswer(putsMarker('INGEST#'));
    client.middlewareStack.add(
      (next) => async (args) => {
        if ((args.request as { headers: Record<string, string> }).headers['x-amz-target']?.endsWith('.GetItem')) throw new Error('the read-back failed');
        return next(args);
      },
      { step: 'finalizeRequest', name: 'failReadBackForTest' },
    );
    const hash = `lost-${++runs}`;
    await expect(new IngestDedupeStore(t.stack.tableName, 300, client).claim(hash)).rejects.toThrow('the read-back failed');
    // The caller answered an error: Tiledesk sends the request again, and it is new.
    expect(await new IngestDedupeStore(t.stack.tableName, 300).claim(hash)).toBe(true);
  });

  it('recover: the attempt is claimed by the recover that wrote its marker, and only by it', async () => {
    const { RecoveryMarkerStore } = await import('../../lambdas/adapters/recovery-marker-store');
    const { client, lostAnswers } = clientLosingFirstAnswer(putsMarker('RECOVERED#'));
    const logId = `${Date.now()}-lost${++runs}`;
    const at = new Date();
    expect(await new RecoveryMarkerStore(t.stack.tableName, 7, client).claim('lost-project', 'sub-1', logId, at)).toBe(true);
    expect(lostAnswers()).toBe(1);
    expect(await new RecoveryMarkerStore(t.stack.tableName, 7).claim('lost-project', 'sub-1', logId, at)).toBe(false);
  });
});

describe("delivery state written on condition of what was read", () => {
  const updatesHealth = (operation: string, input: string) => operation === 'UpdateItem' && input.includes('"HEALTH#');

  it('a wake-up of held deliveries is scheduled by the writer whose answer was lost, who then sends it', async () => {
    const { HeldDeliveryStore } = await import('../../lambdas/adapters/held-delivery-store');
    const { client, lostAnswers } = clientLosingFirstAnswer(updatesHealth);
    const now = Date.now();
    expect(await new HeldDeliveryStore(t.stack.tableName, client).scheduleWake(p1, 'sub-1', undefined, now + 5_000, now)).toBe(true);
    expect(lostAnswers()).toBe(1);
    // A rival asking for the same wake-up is still refused: one message only.
    expect(await new HeldDeliveryStore(t.stack.tableName).scheduleWake(p1, 'sub-1', undefined, now + 6_000, now)).toBe(false);
  });

  it("a health save is the saver's (its outcomes are not folded in twice), and a stale one still loses", async () => {
    const { DeliveryHealthStore } = await import('../../lambdas/adapters/delivery-health-store');
    const { HEALTHY } = await import('../../lambdas/core/delivery-health');
    const { client, lostAnswers } = clientLosingFirstAnswer(updatesHealth);
    const failedOnce = { ...HEALTHY, consecutiveFailures: 1 };
    expect(await new DeliveryHealthStore(t.stack.tableName, client).save(p1, 'sub-1', HEALTHY, failedOnce)).toBe(true);
    expect(lostAnswers()).toBe(1);
    const store = new DeliveryHealthStore(t.stack.tableName);
    expect(await store.get(p1, 'sub-1')).toMatchObject({ consecutiveFailures: 1, version: 1 });
    // A plain refusal (a rival's write, at the first try) reads nothing back: the hot path pays no extra read.
    const recording = clientLosingFirstAnswer(() => false);
    const operations: string[] = [];
    recording.client.middlewareStack.add(
      (next) => async (args) => {
        operations.push(String((args.request as { headers: Record<string, string> }).headers['x-amz-target']).split('.').pop()!);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordForTest' },
    );
    expect(await new DeliveryHealthStore(t.stack.tableName, recording.client).save(p1, 'sub-1', HEALTHY, { ...HEALTHY, consecutiveFailures: 2 })).toBe(false);
    expect(operations).toEqual(['UpdateItem']);
  });
});

describe('subscription writes whose answer was lost', () => {
  const create = async (event: string, target: string, projectId = p1): Promise<Subscription> =>
    (await createSubscription(projectId, { event, target }, 'user-1', setUp().deps)).subscription;

  /** A store whose client loses the answer of the first request `matches` picks (once applied). */
  async function storeLosingFirstAnswer(matches: (operation: string, input: string) => boolean, meanwhile?: () => Promise<unknown>) {
    const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
    const { client, lostAnswers } = clientLosingFirstAnswer(matches, meanwhile);
    return { store: new SubscriptionStore(t.stack.tableName, client), lostAnswers };
  }

  const count = async (projectId: string) => {
    const { dynamoDocumentClient } = await import('../../lambdas/adapters/aws-clients');
    const { subscriptionKeys } = await import('../../lambdas/adapters/subscription-store');
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const key = { pk: subscriptionKeys.project(projectId), sk: subscriptionKeys.counter };
    return (await dynamoDocumentClient.send(new GetCommand({ TableName: t.stack.tableName, Key: key, ConsistentRead: true }))).Item?.subscriptionCount;
  };

  it('a create whose item write was applied answers with the subscription, guarded and counted once', async () => {
    const { store, lostAnswers } = await storeLosingFirstAnswer((operation, body) => operation === 'PutItem' && body.includes('"SUB#'));
    const created = await createSubscription(p1, { event: 'request.create', target: 'https://hooks.example.com/lost' }, 'user-1', setUp({ repository: store }).deps);
    expect(lostAnswers()).toBe(1);
    expect(created.created).toBe(true);
    // Undone before: the item stayed without its guard or count, and the fan-out never saw it.
    expect(await store.findByTopic(p1, 'request.create')).toEqual([created.subscription._id]);
    expect((await store.get(p1, created.subscription._id))?.target).toBe('https://hooks.example.com/lost');
    expect(await count(p1)).toBe(1);
  });

  it('a count change is made once', async () => {
    const { store, lostAnswers } = await storeLosingFirstAnswer((operation, body) => operation === 'UpdateItem' && body.includes('"COUNT"'));
    const created = await createSubscription(p1, { event: 'request.create', target: 'https://hooks.example.com/one' }, 'user-1', setUp({ repository: store }).deps);
    expect(lostAnswers()).toBe(1);
    expect(await count(p1)).toBe(1);
    await deleteSubscription(p1, created.subscription._id, setUp({ repository: store }).deps);
    expect(await count(p1)).toBe(0);
  });

  it('a count change whose retry comes after a rival change is not made twice: the count is never too low', async () => {
    const updatesCount = (operation: string, input: string) => operation === 'UpdateItem' && input.includes('"COUNT"');
    const [a, b] = [await create('request.create', 'https://hooks.example.com/a'), await create('request.create', 'https://hooks.example.com/b')];
    await create('request.create', 'https://hooks.example.com/c');
    expect(await count(p1)).toBe(3);
    // A's count-off is applied, B's delete counts off in the window, then A's retry: 1 stays, not 0.
    const { store, lostAnswers } = await storeLosingFirstAnswer(updatesCount, () => deleteSubscription(p1, b._id, setUp().deps));
    await deleteSubscription(p1, a._id, setUp({ repository: store }).deps);
    expect(lostAnswers()).toBe(1);
    expect(await count(p1)).toBe(1);
    // A count-on with a rival create in the window: at most one too high (it cannot tell), never counted short.
    const second = await storeLosingFirstAnswer(updatesCount, () => create('request.create', 'https://hooks.example.com/rival'));
    await createSubscription(p1, { event: 'request.create', target: 'https://hooks.example.com/d' }, 'user-1', setUp({ repository: second.store }).deps);
    expect(second.lostAnswers()).toBe(1);
    expect(await count(p1)).toBeGreaterThanOrEqual(3);
    expect(await count(p1)).toBeLessThanOrEqual(4);
  });

  it('a count-off retried after a rival brought the count back to the value it read is not made again (ABA)', async () => {
    const updatesCount = (operation: string, input: string) => operation === 'UpdateItem' && input.includes('"COUNT"');
    await create('request.create', 'https://hooks.example.com/stays');
    const leaving = await create('request.create', 'https://hooks.example.com/aba');
    expect(await count(p1)).toBe(2);
    // Our count-off takes 2 to 1 with its answer lost; a create takes 1 back to 2; then the retry.
    const { store, lostAnswers } = await storeLosingFirstAnswer(updatesCount, () => create('request.create', 'https://hooks.example.com/rival-aba'));
    await deleteSubscription(p1, leaving._id, setUp({ repository: store }).deps);
    expect(lostAnswers()).toBe(1);
    expect(await count(p1)).toBe(2);
  });

  it('concurrent creates in one project take turns on the count, none refused for it', async () => {
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, n) => createSubscription(p1, { event: 'request.create', target: `https://hooks.example.com/many-${n}` }, 'user-1', setUp().deps)),
    );
    expect(replies.every((reply) => reply.created)).toBe(true);
    expect(await count(p1)).toBe(12);
  });

  it('a count-off is made once too', async () => {
    await create('request.create', 'https://hooks.example.com/stays');
    const leaving = await create('request.create', 'https://hooks.example.com/leaves');
    expect(await count(p1)).toBe(2);
    const { store, lostAnswers } = await storeLosingFirstAnswer((operation, body) => operation === 'UpdateItem' && body.includes('"COUNT"'));
    await deleteSubscription(p1, leaving._id, setUp({ repository: store }).deps);
    expect(lostAnswers()).toBe(1);
    expect(await count(p1)).toBe(1);
  });

  it('a delete whose item removal was applied answers with the subscription, counts it off once and keeps its logs in the history', async () => {
    const { store, lostAnswers } = await storeLosingFirstAnswer((operation, input) => operation === 'DeleteItem' && input.includes('"SUB#'));
    await create('request.create', 'https://hooks.example.com/stays');
    const leaving = await create('request.create', 'https://hooks.example.com/leaves');
    const deleted = await deleteSubscription(p1, leaving._id, setUp({ repository: store }).deps);
    expect(lostAnswers()).toBe(1);
    // Before: the retry found nothing, answered 404, and neither counted it off nor marked it.
    expect(deleted).toMatchObject({ _id: leaving._id });
    expect(deleted).not.toHaveProperty('deleteId');
    expect(await count(p1)).toBe(1);
    expect(await store.logOwners(p1)).toContain(leaving._id);
    expect(await store.findByTopic(p1, 'request.create')).not.toContain(leaving._id);
  });

  it('a delete claim whose answer was lost is still this request\'s', async () => {
    const { store, lostAnswers } = await storeLosingFirstAnswer((operation, input) => operation === 'UpdateItem' && input.includes('"deleteId"'));
    const leaving = await create('request.create', 'https://hooks.example.com/claimed');
    expect(await deleteSubscription(p1, leaving._id, setUp({ repository: store }).deps)).toMatchObject({ _id: leaving._id });
    expect(lostAnswers()).toBe(1);
    expect(await count(p1)).toBe(0);
  });

  it('an update whose write was applied answers as applied (not 409) and moves the guard', async () => {
    const before = await create('request.create', 'https://hooks.example.com/from');
    const { store, lostAnswers } = await storeLosingFirstAnswer((operation, body) => operation === 'PutItem' && body.includes('"SUB#'));
    const { deps } = setUp({ repository: store, now: () => new Date(T0.getTime() + 60_000) });
    const view = await updateSubscription(p1, before._id, { target: 'https://other.example.com/to' }, deps);
    expect(lostAnswers()).toBe(1);
    expect(view.target).toBe('https://other.example.com/to');
    expect(await store.findByTopic(p1, 'request.create')).toEqual([before._id]);
    // The old pair's guard was released: the same event and target is a new subscription again.
    const again = await createSubscription(p1, { event: 'request.create', target: 'https://hooks.example.com/from' }, 'user-1', setUp().deps);
    expect(again.created).toBe(true);
  });

  it('a write that lost to another request is still answered as lost (409)', async () => {
    const before = await create('request.create', 'https://hooks.example.com/raced');
    const { deps } = setUp({ now: () => new Date(T0.getTime() + 60_000) });
    await updateSubscription(p1, before._id, { status: 'disabled' }, deps);
    const { SubscriptionStore } = await import('../../lambdas/adapters/subscription-store');
    const stale = new SubscriptionStore(t.stack.tableName);
    await expect(stale.replace(before, { ...before, status: 'active', updatedAt: '2024-05-01T10:05:00.000Z' })).rejects.toBeInstanceOf(ConflictError);
  });
});
