// Running work a few at a time: per key (a batch's POSTs per subscriber) or over one list (the
// history merge's queries).
import { atMostAtOnce, inPools } from '../../../lambdas/core/in-pools';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

/** Work that records how many run at once and which started. */
function counted(fail?: (item: number) => boolean) {
  const state = { running: 0, most: 0, started: [] as number[] };
  const work = async (item: number): Promise<number> => {
    state.started.push(item);
    state.most = Math.max(state.most, ++state.running);
    await tick();
    state.running--;
    if (fail?.(item)) throw new Error(`item ${item} failed`);
    return item * 2;
  };
  return { state, work };
}

test('runs at most atOnce at a time and answers in the items’ order', async () => {
  const { state, work } = counted();
  const items = Array.from({ length: 100 }, (_, n) => n);
  expect(await atMostAtOnce(items, 7, work)).toEqual(items.map((n) => n * 2));
  expect(state.most).toBe(7);
});

test('per key: each key runs its own few at a time, side by side', async () => {
  const { state, work } = counted();
  const items = Array.from({ length: 40 }, (_, n) => n);
  expect(await inPools(items, (n) => String(n % 2), () => 3, work)).toEqual(items.map((n) => n * 2));
  expect(state.most).toBe(6);
});

test('starts nothing more once a work has failed, and throws its error', async () => {
  const { state, work } = counted((item) => item === 0);
  const items = Array.from({ length: 200 }, (_, n) => n);
  await expect(atMostAtOnce(items, 40, work)).rejects.toThrow('item 0 failed');
  await new Promise((resolve) => setTimeout(resolve, 100));
  // The 40 started first, and at most the ones that took a free runner's turn before item 0 failed.
  expect(state.started.length).toBeLessThan(80);
});

test.each([0, Number.NaN])('an atOnce of %s runs one at a time rather than nothing', async (atOnce) => {
  const { state, work } = counted();
  expect(await atMostAtOnce([1, 2, 3], atOnce, work)).toEqual([2, 4, 6]);
  expect(state.most).toBe(1);
});
