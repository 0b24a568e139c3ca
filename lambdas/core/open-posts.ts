// The deliveries one invocation is POSTing, shared by the batches it handles at once
// (lambdas/core/work-while-held.ts): whose taken messages must wait for the held batch.

/** The deliveries being POSTed in one invocation, by subscription. */
export class OpenPosts {
  private readonly open = new Set<{ subscriptionId: string }>();

  /** Counts a delivery as open until the returned function is called. */
  begin(subscriptionId: string): () => void {
    const entry = { subscriptionId };
    this.open.add(entry);
    return () => {
      this.open.delete(entry);
    };
  }

  /** Whether a delivery to the subscription is open. */
  has(subscriptionId: string): boolean {
    for (const entry of this.open) if (entry.subscriptionId === subscriptionId) return true;
    return false;
  }
}
