import { AWS_CALLS } from '../core/settings';

/**
 * At most `max` calls of one client under way; the others wait their turn, in order, before
 * any of the SDK's own steps (docs/design.md §3.8). The SDK's Node handler starts a call's
 * connection and request timers when the call reaches it, whether or not one of its 50 sockets
 * is free, so a call that waited for a socket could time out unsent; a call waiting here has
 * not reached it yet.
 */
export class CallSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new Error(`calls at once must be at least 1; got ${max}`);
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.running < this.max) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await call();
    } finally {
      // The slot passes straight to the next call waiting, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

interface MiddlewareStackOf {
  middlewareStack: {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; priority: 'high'; name: string },
    ): void;
  };
}

/** Makes every call of `client` (and of a document client over it) wait for one of `max` slots. */
export function limitCallsAtOnce<T>(client: T, max: number = AWS_CALLS.callsAtOnce): T {
  const slots = new CallSlots(max);
  (client as MiddlewareStackOf).middlewareStack.add((next) => (args) => slots.run(() => next(args)), {
    step: 'initialize',
    priority: 'high',
    name: 'callsAtOnceMiddleware',
  });
  return client;
}
