import { ReceivedMessage, subscriptionsOf } from '../../../lambdas/core/delivery-batch';
import { OpenPosts } from '../../../lambdas/core/open-posts';
import { LaneQueue, WorkWhileHeldOptions, workWhileHeld } from '../../../lambdas/core/work-while-held';

const message = (n: number, subscriptionId = `s${n}`): ReceivedMessage => ({
  messageId: `m${n}`,
  receiptHandle: `r${n}`,
  body: JSON.stringify({ subscriptionId, webhookId: `w${n}` }),
});

/** A queue holding `waiting` messages, handed out ten at a time, that records what was deleted and released. */
function fakeQueue(waiting: ReceivedMessage[]) {
  const queue = {
    receives: 0,
    removed: [] as string[],
    released: [] as { ids: string[]; seconds: number }[],
    receive: async () => {
      queue.receives++;
      return waiting.splice(0, 10);
    },
    remove: async (messages: ReceivedMessage[]) => {
      queue.removed.push(...messages.map((taken) => taken.messageId));
    },
    release: async (messages: ReceivedMessage[], seconds: number) => {
      queue.released.push({ ids: messages.map((taken) => taken.messageId), seconds });
    },
  };
  return queue;
}

function setup(queue: LaneQueue, overrides: Partial<WorkWhileHeldOptions> = {}) {
  const handled: { ids: string[]; at: number }[] = [];
  const report = { metric: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const openPosts = new OpenPosts();
  const options: WorkWhileHeldOptions = {
    afterMs: 20,
    idleMs: 5,
    idleMaxMs: 20,
    openPosts,
    subscriptionsOf,
    setAsideMax: 10,
    hasTimeFor: () => true,
    queue,
    handle: async (messages) => {
      handled.push({ ids: messages.map((taken) => taken.messageId), at: Date.now() });
      return [];
    },
    retrySeconds: 30,
    report,
    ...overrides,
  };
  /** The event source's batch: a POST to `subscriptionId` open for `ms`, then `value` (or a rejection). */
  const heldBatch = <T>(ms: number, value: T, { subscriptionId = 'held', posting = true, fails = false } = {}): Promise<T> => {
    const done = posting ? openPosts.begin(subscriptionId) : () => undefined;
    return new Promise<T>((resolve, reject) =>
      setTimeout(() => {
        done();
        if (fails) reject(new Error('batch failed'));
        else resolve(value);
      }, ms),
    );
  };
  return { options, handled, report, openPosts, heldBatch };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('workWhileHeld', () => {
  it('takes nothing when the batch ends before the wait', async () => {
    const queue = fakeQueue([message(1)]);
    const { options, handled, heldBatch } = setup(queue, { afterMs: 200 });
    await expect(workWhileHeld(heldBatch(20, ['failed-id']), options)).resolves.toEqual(['failed-id']);
    expect(queue.receives).toBe(0);
    expect(handled).toEqual([]);
  });

  it('handles and deletes the lane’s messages while a held batch runs, then answers as the batch does', async () => {
    const queue = fakeQueue(Array.from({ length: 15 }, (_, n) => message(n)));
    const { options, handled, report, heldBatch } = setup(queue);
    await expect(workWhileHeld(heldBatch(150, ['held-failure']), options)).resolves.toEqual(['held-failure']);
    expect(handled.map(({ ids }) => ids.length)).toEqual([10, 5]);
    expect(queue.removed).toHaveLength(15);
    expect(report.metric).toHaveBeenCalledWith('DeliveryMessagesTakenWhileHeld', 10);
    const receivesAtEnd = queue.receives;
    await sleep(40);
    expect(queue.receives).toBe(receivesAtEnd);
  });

  it('waits longer between receives while the lane stays empty', async () => {
    const queue = fakeQueue([]);
    const { options, heldBatch } = setup(queue, { idleMs: 10, idleMaxMs: 80 });
    await workWhileHeld(heldBatch(420, []), options);
    // 20 ms in, then empty receives 10, 20, 40, 80, 80, 80… ms apart: about 7 in 400 ms, not 40.
    expect(queue.receives).toBeGreaterThanOrEqual(2);
    expect(queue.receives).toBeLessThanOrEqual(9);
  });

  it('handles messages for a subscriber it is still POSTing to only once the batch has ended', async () => {
    const queue = fakeQueue([message(1, 'held'), message(2), message(3, 'held')]);
    const { options, handled, heldBatch } = setup(queue);
    const endsAt = Date.now() + 120;
    await workWhileHeld(heldBatch(120, []), options);
    expect(handled[0]).toEqual({ ids: ['m2'], at: expect.any(Number) });
    expect(handled[0]!.at).toBeLessThan(endsAt);
    expect(handled[1]!.ids).toEqual(['m1', 'm3']);
    expect(handled[1]!.at).toBeGreaterThanOrEqual(endsAt - 5);
    expect(queue.removed.sort()).toEqual(['m1', 'm2', 'm3']);
  });

  it('stops taking once it has set aside a batch’s worth', async () => {
    const queue = fakeQueue(Array.from({ length: 30 }, (_, n) => message(n, 'held')));
    const { options, handled, heldBatch } = setup(queue, { setAsideMax: 10 });
    await workWhileHeld(heldBatch(100, []), options);
    expect(queue.receives).toBe(1);
    expect(handled).toHaveLength(1);
    expect(handled[0]!.ids).toHaveLength(10);
  });

  it('leaves on the queue the messages their handling reported failed', async () => {
    const queue = fakeQueue([message(1), message(2), message(3)]);
    const { options, heldBatch } = setup(queue, { handle: async () => ['m2'] });
    await workWhileHeld(heldBatch(80, []), options);
    expect(queue.removed).toEqual(['m1', 'm3']);
  });

  it('answers only once a taken batch that outlasts the held one is settled', async () => {
    const queue = fakeQueue([message(1)]);
    let settledAt = 0;
    const { options, heldBatch } = setup(queue, {
      handle: async () => {
        await sleep(100);
        settledAt = Date.now();
        return [];
      },
    });
    await workWhileHeld(heldBatch(40, []), options);
    expect(settledAt).toBeGreaterThan(0);
    expect(queue.removed).toEqual(['m1']);
  });

  it('shows messages whose handling failed again after the retry wait, and stops taking', async () => {
    const queue = fakeQueue(Array.from({ length: 20 }, (_, n) => message(n)));
    const { options, report, heldBatch } = setup(queue, {
      handle: async () => {
        throw new Error('DynamoDB unreachable');
      },
    });
    await expect(workWhileHeld(heldBatch(80, []), options)).resolves.toEqual([]);
    expect(queue.receives).toBe(1);
    expect(queue.removed).toEqual([]);
    expect(queue.released).toEqual([{ ids: Array.from({ length: 10 }, (_, n) => `m${n}`), seconds: 30 }]);
    expect(report.error).toHaveBeenCalledWith(expect.stringContaining('tried again'), expect.objectContaining({ messages: 10 }));
  });

  it('reports messages handled but not deleted, and goes on', async () => {
    const queue = {
      ...fakeQueue([message(1)]),
      remove: async () => {
        throw new Error('SQS did not delete 1 message(s)');
      },
    };
    const { options, report, handled, heldBatch } = setup(queue);
    await expect(workWhileHeld(heldBatch(60, ['x']), options)).resolves.toEqual(['x']);
    expect(handled).toHaveLength(1);
    expect(report.warn).toHaveBeenCalledWith(expect.stringContaining('not all deleted'), expect.objectContaining({ messages: 1 }));
  });

  it('stops taking when a receive fails, and still answers as the batch does', async () => {
    const queue: LaneQueue = {
      receive: async () => {
        throw new Error('AccessDenied');
      },
      remove: async () => undefined,
      release: async () => undefined,
    };
    const { options, handled, report, heldBatch } = setup(queue);
    await expect(workWhileHeld(heldBatch(60, ['x']), options)).resolves.toEqual(['x']);
    expect(handled).toEqual([]);
    expect(report.warn).toHaveBeenCalledTimes(1);
  });

  it('takes nothing without time left for another batch', async () => {
    const queue = fakeQueue([message(1)]);
    const { options, heldBatch } = setup(queue, { hasTimeFor: () => false });
    await workWhileHeld(heldBatch(60, []), options);
    expect(queue.receives).toBe(0);
  });

  it('rejects as the batch does, after settling what it took', async () => {
    const queue = fakeQueue([message(1)]);
    const { options, heldBatch } = setup(queue);
    await expect(workWhileHeld(heldBatch(60, [], { fails: true }), options)).rejects.toThrow('batch failed');
    expect(queue.removed).toEqual(['m1']);
  });
});

describe('subscriptionsOf', () => {
  it('reads a delivery’s, a pack’s and a wake-up’s subscriptions, and none of an unreadable body', () => {
    const of = (body: string) => subscriptionsOf({ messageId: 'm', receiptHandle: 'r', body });
    expect(of('{"subscriptionId":"a"}')).toEqual(['a']);
    expect(of('{"pack":[{"subscriptionId":"a"},{"subscriptionId":"b"},{"subscriptionId":"a"}]}')).toEqual(['a', 'b']);
    expect(of('{"wake":"release-held","projectId":"p","subscriptionId":"c","wakeAt":1}')).toEqual(['c']);
    expect(of('not json')).toEqual([]);
  });
});

describe('OpenPosts', () => {
  it('counts a subscription’s deliveries open until each ends', () => {
    const open = new OpenPosts();
    const endFirst = open.begin('a');
    const endSecond = open.begin('a');
    expect(open.has('a')).toBe(true);
    expect(open.has('b')).toBe(false);
    endFirst();
    expect(open.has('a')).toBe(true);
    endSecond();
    expect(open.has('a')).toBe(false);
  });
});
