/**
 * SQS's batch requests (SendMessageBatch, DeleteMessageBatch, …) take at most 10 entries. A
 * SendMessageBatch's bodies together may reach 1 MiB on AWS; batches here are kept to 256 KiB,
 * SQS's limit before 2025 (a body larger than that goes alone).
 */
export const SQS_BATCH = { maxEntries: 10, maxBytes: 256 * 1024 } as const;

/**
 * `items` in order, cut into batches of at most {@link SQS_BATCH}'s entries whose sizes
 * (`bytesOf`) add up to at most its bytes; an item larger than that is a batch of its own.
 */
export function chunkBySize<T>(items: readonly T[], bytesOf: (item: T) => number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = bytesOf(item);
    if (current.length === SQS_BATCH.maxEntries || (current.length > 0 && size + bytes > SQS_BATCH.maxBytes)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
