// The batch use case over in-memory stores and queues: packs of deliveries (one subscription's,
// in one SQS message), a subscriber's POSTs at once, and what stops them.
import { QueuedMessage, deliverBatch, subscriptionsOf } from '../../../lambdas/core/delivery-batch';
import { OpenPosts } from '../../../lambdas/core/open-posts';
import { workWhileHeld } from '../../../lambdas/core/work-while-held';
import { HEALTHY } from '../../../lambdas/core/delivery-health';
import { packBody } from '../../../lambdas/core/delivery-message';
import { DELIVERY } from '../../../lambdas/core/settings';
import { Subscription } from '../../../lambdas/core/subscription';
import { message, records, subscription, world } from '../../support/delivery-batch-world';

describe('a pack of deliveries (one subscription, one message)', () => {
  const pack = (...ns: number[]) => packBody(ns.map(message));

  test('each delivery of a pack is POSTed and logged as if it had come alone, and the pack is acknowledged', async () => {
    const { state, attempts, deps } = world(HEALTHY);
    const failed = await deliverBatch('fast', records([pack(1, 2, 3), message(4)]), deps);
    expect(failed).toEqual([]);
    expect(state.posts).toBe(4);
    expect(attempts.map((attempt) => [attempt.webhookId, attempt.outcome])).toEqual([
      ['msg_e1_s1', 'delivered'],
      ['msg_e2_s1', 'delivered'],
      ['msg_e3_s1', 'delivered'],
      ['msg_e4_s1', 'delivered'],
    ]);
  });

  test('a pack with a malformed delivery goes towards the DLQ whole, and the other messages are still handled', async () => {
    const { state, deps } = world(HEALTHY);
    const bad = packBody([message(1), JSON.stringify({ webhookId: 'msg_e2_s1' })]);
    const failed = await deliverBatch('fast', records([bad, message(3)]), deps);
    expect(failed).toEqual(['m0']);
    expect(state.posts).toBe(1);
  });

  const ids = (list: { message: QueuedMessage }[]) => list.map(({ message: queued }) => (JSON.parse(queued.body) as { webhookId: string; attempt: number }));

  test('a delivery of a pack that cannot be handled goes on alone, unchanged; the rest of its pack is handled and the pack acknowledged', async () => {
    const { state, sent, attempts, deps } = world(HEALTHY);
    deps.post = async (request) => {
      state.posts += 1;
      if (request.headers['webhook-id'] === 'msg_e1_s1') throw new Error('the handler broke');
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    const failed = await deliverBatch('fast', records([pack(1, 2, 3), message(4)]), deps);
    expect(failed).toEqual([]);
    expect(state.posts).toBe(4);
    // 2, 3 and 4 failed and wait for their retry (attempt 2); 1 goes again as it came (attempt 1), in 30 s.
    expect(attempts.map((attempt) => attempt.webhookId).sort()).toEqual(['msg_e2_s1', 'msg_e3_s1', 'msg_e4_s1']);
    expect(ids(sent).map(({ webhookId, attempt }) => `${webhookId}#${attempt}`).sort()).toEqual(['msg_e1_s1#1', 'msg_e2_s1#2', 'msg_e3_s1#2', 'msg_e4_s1#2']);
    expect(sent.find(({ message: queued }) => queued.body.includes('msg_e1_s1'))!.message.delaySeconds).toBe(30);
  });

  test('a lone message that cannot be handled is received again (its receives counted towards the DLQ), as before packs', async () => {
    const { sent, deps } = world(HEALTHY);
    deps.post = async () => {
      throw new Error('the handler broke');
    };
    expect(await deliverBatch('fast', records([message(1)]), deps)).toEqual(['m0']);
    expect(sent).toEqual([]);
  });

  test('a re-send SQS refuses is sent once more alone; refused again, the pack is received again', async () => {
    for (const refusals of [1, 2]) {
      const { sent, deps } = world(HEALTHY);
      deps.post = async () => ({ statusCode: 500, headers: {}, body: '', durationMs: 5 });
      let refused = 0;
      deps.send = async (queue, messages) => {
        const unsent = messages.flatMap((queued, index) => (queued.body.includes('msg_e2_s1') && refused < refusals ? [{ index, reason: 'Throttled' }] : []));
        refused += unsent.length;
        messages.forEach((queued, index) => {
          if (!unsent.some((item) => item.index === index)) sent.push({ queue, message: queued });
        });
        return unsent;
      };
      const failed = await deliverBatch('fast', records([pack(1, 2, 3)]), deps);
      expect(failed).toEqual(refusals === 1 ? [] : ['m0']);
      expect(ids(sent).map(({ webhookId, attempt }) => `${webhookId}#${attempt}`).sort()).toEqual(
        refusals === 1 ? ['msg_e1_s1#2', 'msg_e2_s1#2', 'msg_e3_s1#2'] : ['msg_e1_s1#2', 'msg_e3_s1#2'],
      );
    }
  });

  test("one subscription's stores failing holds its own deliveries only: the rest of the batch is delivered", async () => {
    const limited = { ...subscription, _id: 's2', rateLimit: 5 } as Subscription;
    const { state, sent, deps } = world(HEALTHY);
    const getState = deps.stores.getState;
    deps.stores.getState = async (keys) => {
      const read = await getState(keys);
      read.subscriptions.set('s2', limited);
      return read;
    };
    deps.stores.reserveRate = async () => {
      throw new Error('Throttled');
    };
    const other = (n: number) => message(n).replace(/s1/g, 's2');
    const failed = await deliverBatch('fast', records([pack(1, 2), other(3), packBody([other(4), other(5)])]), deps);
    expect(failed).toEqual(['m1']);
    expect(state.posts).toBe(2);
    expect(ids(sent).map(({ webhookId }) => webhookId).sort()).toEqual(['msg_e4_s2', 'msg_e5_s2']);
  });

  /** Makes every POST answer 200 after `ms`; the returned function tells the most POSTs that were open at once. */
  const countPostsAtOnce = (deps: ReturnType<typeof world>['deps'], ms: number): (() => number) => {
    let open = 0;
    let most = 0;
    deps.post = async () => {
      open += 1;
      most = Math.max(most, open);
      await new Promise((resolve) => setTimeout(resolve, ms));
      open -= 1;
      return { statusCode: 200, headers: {}, body: '', durationMs: ms };
    };
    return () => most;
  };

  test('a subscriber gets at most postsAtOncePerSubscription POSTs at once from one invocation', async () => {
    const { deps } = world(HEALTHY);
    const most = countPostsAtOnce(deps, 5);
    const tens = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(tens), deps)).toEqual([]);
    expect(most()).toBe(DELIVERY.postsAtOncePerSubscription);
  });

  test('a held invocation’s taken messages add no POSTs at once to a subscriber its batch is still POSTing to', async () => {
    const { deps } = world(HEALTHY);
    const most = countPostsAtOnce(deps, 150);
    const packsOf = (first: number) => [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(first + pack * 9 + n))));
    const waiting = records(packsOf(100)).map((record) => ({ ...record, messageId: `taken-${record.messageId}` }));
    const openPosts = new OpenPosts();
    const removed: string[] = [];
    const failed = await workWhileHeld(deliverBatch('fast', records(packsOf(1)), deps, openPosts), {
      afterMs: 50,
      idleMs: 5,
      idleMaxMs: 20,
      openPosts,
      subscriptionsOf,
      setAsideMax: 10,
      hasTimeFor: () => true,
      queue: {
        receive: async () => waiting.splice(0, 10),
        remove: async (messages) => void removed.push(...messages.map((taken) => taken.messageId)),
        release: async () => undefined,
      },
      handle: (messages) => deliverBatch('fast', messages, deps, openPosts),
      retrySeconds: 30,
      report: deps.report,
    });
    expect(failed).toEqual([]);
    expect(removed).toHaveLength(3);
    expect(most()).toBe(DELIVERY.postsAtOncePerSubscription);
  });

  const withSlot = (n: number, slot: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...(JSON.parse(message(n)) as object), rateSlotAt: slot, notBefore: slot, ...extra });

  test('a rate-limited subscriber on time for its slots loses none to a wait for other POSTs (its slots pace it, not the POSTs-at-once cap)', async () => {
    const { state, sent, deps } = world(HEALTHY, { ...subscription, rateLimit: 20 } as Subscription);
    const start = Date.now() + 100;
    deps.post = async () => {
      state.posts += 1;
      await new Promise((resolve) => setTimeout(resolve, 600));
      return { statusCode: 200, headers: {}, body: '', durationMs: 600 };
    };
    const bodies = Array.from({ length: 18 }, (_, n) => withSlot(n, start + n * 50));
    expect(await deliverBatch('fast', records([packBody(bodies.slice(0, 9)), packBody(bodies.slice(9))]), deps)).toEqual([]);
    expect({ posts: state.posts, sentBack: sent.length }).toEqual({ posts: 18, sentBack: 0 });
  });

  test('admission failing after some of the group were decided sends each delivery on once', async () => {
    const { sent, deps } = world(HEALTHY, { ...subscription, rateLimit: 5 } as Subscription);
    deps.stores.reserveRate = async () => {
      throw new Error('Throttled');
    };
    // Held for its slot (decided) before the reservation for the other two throws.
    const early = withSlot(1, Date.now() + 5000, { notBefore: Date.now() - 1000 });
    expect(await deliverBatch('fast', records([packBody([early, message(2), message(3)])]), deps)).toEqual([]);
    expect(ids(sent).map(({ webhookId }) => webhookId).sort()).toEqual(['msg_e1_s1', 'msg_e2_s1', 'msg_e3_s1']);
  });

  test("a health or dead-streak write failing after the POSTs does not fail the batch (it would POST them all again)", async () => {
    const { state, sent, deps } = world(HEALTHY);
    deps.post = async () => {
      state.posts += 1;
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    deps.stores.saveHealth = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    deps.stores.resetDeadDeliveries = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    expect(await deliverBatch('fast', records([packBody([message(1), message(2)]), message(3)]), deps)).toEqual([]);
    expect(state.posts).toBe(3);
    expect(sent).toHaveLength(3);
  });

  test('a subscriber failing enough times in a row to open its circuit gets no more POSTs from the invocation: the rest come back in a second', async () => {
    const { state, sent, deps } = world(HEALTHY);
    deps.post = async () => {
      state.posts += 1;
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    // Ten start together, and each that ends starts the next until five have failed in a row:
    // at most four more start after that.
    expect(state.posts).toBeLessThanOrEqual(DELIVERY.postsAtOncePerSubscription + DELIVERY.circuitFailuresToOpen - 1);
    const back = ids(sent).filter(({ attempt }) => attempt === 1);
    expect(back).toHaveLength(27 - state.posts);
    expect(sent.filter(({ message: queued }) => queued.delaySeconds === 1)).toHaveLength(27 - state.posts);
    expect(state.health.circuit).toBe('open');
  });

  test('failures its health already counted bring the stop sooner: at 4 in a row, the first failure of the invocation ends its POSTs', async () => {
    const { state, sent, deps } = world({ ...HEALTHY, consecutiveFailures: DELIVERY.circuitFailuresToOpen - 1 });
    deps.post = async () => {
      state.posts += 1;
      return { statusCode: 500, headers: {}, body: '', durationMs: 5 };
    };
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    // The first wave of ten had started; none after it (counting this invocation alone, four more would).
    expect(state.posts).toBe(DELIVERY.postsAtOncePerSubscription);
    expect(sent.filter(({ message: queued }) => queued.delaySeconds === 1)).toHaveLength(27 - state.posts);
    expect(state.health.circuit).toBe('open');
  });

  test("a disabled subscriber's stored failures stop nothing: its deliveries are all logged skipped in one invocation, none POSTed or sent back", async () => {
    const { state, sent, attempts, deps } = world({ ...HEALTHY, consecutiveFailures: 7 }, { ...subscription, status: 'disabled' } as Subscription);
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    expect(state.posts).toBe(0);
    expect(sent).toEqual([]);
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(Array.from({ length: 27 }, () => 'skipped'));
  });

  test('a subscriber that misses the fast lane deadline in one wave gets the rest of its deliveries forwarded to the slow lane, without a POST', async () => {
    const { state, sent, attempts, deps } = world(HEALTHY);
    deps.answerTimeoutMs = { fast: DELIVERY.fastLaneAnswerMs };
    deps.post = async () => {
      state.posts += 1;
      return { headers: {}, body: '', durationMs: 560, answerMs: 500, error: 'no answer within 500 ms of the request', errorKind: 'timeout' };
    };
    const packs = [0, 1, 2].map((pack) => packBody(Array.from({ length: 9 }, (_, n) => message(pack * 9 + n + 1))));
    expect(await deliverBatch('fast', records(packs), deps)).toEqual([]);
    expect(state.posts).toBe(DELIVERY.postsAtOncePerSubscription);
    expect(attempts).toHaveLength(DELIVERY.postsAtOncePerSubscription);
    // All 27 go to the slow lane: the 10 POSTed as their retry at once, the 17 others as they came.
    expect(sent.map(({ queue }) => queue)).toEqual(Array(27).fill('slow'));
    expect(new Set(ids(sent).map(({ webhookId }) => webhookId)).size).toBe(27);
    expect(state.health.lane).toBe('slow');
  });
});
