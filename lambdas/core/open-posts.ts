// The deliveries one invocation is POSTing, shared by the batches it handles at once
// (lambdas/core/work-while-held.ts): what tells a held batch, and whose messages must wait.

/** The deliveries being POSTed in one invocation, by subscription, each with when it began. */
export class OpenPosts {
  private readonly open = new Set<{ subscriptionId: string; since: number }>();

  /** Counts a delivery as open until the returned function is called. */
  begin(subscriptionId: string, now = Date.now()): () => void {
    const entry = { subscriptionId, since: now };
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

  /** How long the oldest open delivery has been open; 0 when none is. */
  longestOpenMs(now = Date.now()): number {
    let oldest = now;
    for (const entry of this.open) oldest = Math.min(oldest, entry.since);
    return now - oldest;
  }
}
