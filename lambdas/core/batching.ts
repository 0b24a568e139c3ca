/**
 * SQS's batch requests (SendMessageBatch, DeleteMessageBatch, …) take at most 10 entries. A
 * SendMessageBatch's bodies together may reach 1 MiB on AWS; batches here are kept to 256 KiB,
 * SQS's limit before 2025 (a body larger than that goes alone).
 */
export const SQS_BATCH = { maxEntries: 10, maxBytes: 256 * 1024 } as const;

/**
 * `items` in order, cut into batches of at most `limits.maxEntries` whose sizes (`bytesOf`) add
 * up to at most `limits.maxBytes` (SQS's by default); an item larger than that is a batch of its own.
 */
export function chunkBySize<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  limits: { maxEntries: number; maxBytes: number } = SQS_BATCH,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = bytesOf(item);
    if (current.length === limits.maxEntries || (current.length > 0 && size + bytes > limits.maxBytes)) {
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
