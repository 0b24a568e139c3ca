// Running a batch's work a few at a time per key (lambdas/core/delivery-batch.ts's POSTs per subscriber).
import { groupBy } from './group-by';

/**
 * Runs `work` on every item, at most `atOnceOf(key)` at a time for items of one key (keys run
 * side by side; the next item starts as soon as one ends); results in the items' order. Once a
 * result of a key makes `stop.after` true for the results of that key so far, its items not yet
 * started get `stop.instead` without `work`. Once a `work` throws, no further item is started
 * (the ones under way finish) and the error is thrown.
 */
export async function inPools<T, R>(
  items: T[],
  keyOf: (item: T) => string,
  atOnceOf: (key: string) => number,
  work: (item: T) => Promise<R>,
  stop?: { after: (results: R[], key: string) => boolean; instead: (item: T, results: R[]) => R },
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const indexed = items.map((item, index) => ({ item, index }));
  let failed = false;
  await Promise.all(
    [...groupBy(indexed, ({ item }) => keyOf(item))].map(async ([key, group]) => {
      const done: R[] = [];
      let next = 0;
      let stopped = false;
      const runner = async (): Promise<void> => {
        while (next < group.length && !failed) {
          const { item, index } = group[next++]!;
          if (stopped && stop) {
            results[index] = stop.instead(item, done);
            continue;
          }
          let result: R;
          try {
            result = await work(item);
          } catch (error) {
            failed = true;
            throw error;
          }
          results[index] = result;
          done.push(result);
          if (!stopped && stop?.after(done, key)) stopped = true;
        }
      };
      const atOnce = atOnceOf(key);
      await Promise.all(Array.from({ length: atOnce >= 1 ? Math.min(atOnce, group.length) : 1 }, runner));
    }),
  );
  return results;
}

/** Runs `work` on every item, at most `atOnce` at a time; results in the items' order. */
export function atMostAtOnce<T, R>(items: T[], atOnce: number, work: (item: T) => Promise<R>): Promise<R[]> {
  return inPools(items, () => '', () => atOnce, work);
}
