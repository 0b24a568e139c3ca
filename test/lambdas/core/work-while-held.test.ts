import type { ReceivedMessage } from '../../../lambdas/core/delivery-batch';
import { LaneQueue, WorkWhileHeldOptions, workWhileHeld } from '../../../lambdas/core/work-while-held';

const message = (n: number): ReceivedMessage => ({ messageId: `m${n}`, receiptHandle: `r${n}`, body: `{"n":${n}}` });

/** A queue holding `waiting` messages, handed out ten at a time, that records what was deleted. */
function fakeQueue(waiting: ReceivedMessage[]): LaneQueue & { receives: number; removed: string[] } {
  const queue = {
    receives: 0,
    removed: [] as string[],
    receive: async () => {
      queue.receives++;
      return waiting.splice(0, 10);
    },
    remove: async (messages: ReceivedMessage[]) => {
      queue.removed.push(...messages.map((taken) => taken.messageId));
    },
  };
  return queue;
}

function options(queue: LaneQueue, overrides: Partial<WorkWhileHeldOptions> = {}) {
  const handled: string[][] = [];
  const report = { metric: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const opts: WorkWhileHeldOptions = {
    afterMs: 20,
    idleMs: 5,
    hasTimeFor: () => true,
    queue,
    handle: async (messages) => {
      handled.push(messages.map((taken) => taken.messageId));
      return [];
    },
    report,
    ...overrides,
  };
  return { opts, handled, report };
}

const settleAfter = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe('workWhileHeld', () => {
  it('takes nothing when the batch ends before the wait', async () => {
    const queue = fakeQueue([message(1)]);
    const { opts, handled } = options(queue, { afterMs: 200 });
    await expect(workWhileHeld(settleAfter(5, ['failed-id']), opts)).resolves.toEqual(['failed-id']);
    expect(queue.receives).toBe(0);
    expect(handled).toEqual([]);
  });

  it('handles and deletes the lane’s messages while a held batch runs, then answers as the batch does', async () => {
    const queue = fakeQueue(Array.from({ length: 15 }, (_, n) => message(n)));
    const { opts, handled, report } = options(queue);
    await expect(workWhileHeld(settleAfter(150, ['held-failure']), opts)).resolves.toEqual(['held-failure']);
    expect(handled.map((ids) => ids.length)).toEqual([10, 5]);
    expect(queue.removed).toHaveLength(15);
    expect(report.metric).toHaveBeenCalledWith('DeliveryMessagesTakenWhileHeld', 10);
    // Once the lane was empty it waited between receives, and stopped when the batch ended.
    expect(queue.receives).toBeGreaterThan(2);
    const receivesAtEnd = queue.receives;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(queue.receives).toBe(receivesAtEnd);
  });

  it('leaves on the queue the messages their handling reported failed', async () => {
    const queue = fakeQueue([message(1), message(2), message(3)]);
    const { opts } = options(queue, { handle: async () => ['m2'] });
    await workWhileHeld(settleAfter(80, []), opts);
    expect(queue.removed).toEqual(['m1', 'm3']);
  });

  it('deletes nothing and stops taking when handling fails: the messages return after their visibility timeout', async () => {
    const queue = fakeQueue(Array.from({ length: 20 }, (_, n) => message(n)));
    const { opts, report } = options(queue, {
      handle: async () => {
        throw new Error('DynamoDB unreachable');
      },
    });
    await expect(workWhileHeld(settleAfter(80, []), opts)).resolves.toEqual([]);
    expect(queue.receives).toBe(1);
    expect(queue.removed).toEqual([]);
    expect(report.error).toHaveBeenCalledWith(expect.stringContaining('visibility timeout'), expect.objectContaining({ messages: 10 }));
  });

  it('stops taking when a receive fails, and still answers as the batch does', async () => {
    const queue: LaneQueue = {
      receive: async () => {
        throw new Error('AccessDenied');
      },
      remove: async () => undefined,
    };
    const { opts, handled, report } = options(queue);
    await expect(workWhileHeld(settleAfter(60, ['x']), opts)).resolves.toEqual(['x']);
    expect(handled).toEqual([]);
    expect(report.warn).toHaveBeenCalledTimes(1);
  });

  it('takes nothing without time left for another batch', async () => {
    const queue = fakeQueue([message(1)]);
    const { opts } = options(queue, { hasTimeFor: () => false });
    await workWhileHeld(settleAfter(60, []), opts);
    expect(queue.receives).toBe(0);
  });

  it('rejects as the batch does, after settling what it took', async () => {
    const queue = fakeQueue([message(1)]);
    const { opts } = options(queue);
    const failing = new Promise<string[]>((_, reject) => setTimeout(() => reject(new Error('batch failed')), 60));
    await expect(workWhileHeld(failing, opts)).rejects.toThrow('batch failed');
    expect(queue.removed).toEqual(['m1']);
  });
});
