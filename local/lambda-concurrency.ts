/**
 * AWS's documented Lambda concurrency numbers, and the factor that brings the ones a 2-core
 * machine cannot run down to size. The factor applies to the account's concurrency and to the
 * most batches one SQS event source processes at once; numbers a deployment sets (maximum
 * concurrency, reserved concurrency, timeouts) and the small ones (5 initial batches, the
 * 300-a-minute scale-up) run as documented. See docs/design.md, "Lambda's SQS event source".
 */
export const AWS_LAMBDA_LIMITS = {
  /** Default concurrent executions of an account in a Region. */
  accountConcurrency: 1000,
  /** Unreserved concurrency Lambda always keeps for functions without a reservation. */
  minimumUnreservedConcurrency: 100,
  /** Batches an SQS event source processes at once when traffic starts. */
  initialBatches: 5,
  /** Batches an SQS event source adds per minute while messages remain. */
  scaleUpBatchesPerMinute: 300,
  /** Most batches one SQS event source processes at once. */
  maxBatches: 1000,
} as const;

/** The local factor applied to AWS's large concurrency numbers, unless the stack is given another. */
export const DEFAULT_LOCAL_CONCURRENCY_SCALE = 0.1;

/** The concurrency numbers the local stack runs with. */
export interface LocalLambdaLimits {
  scale: number;
  accountConcurrency: number;
  minimumUnreservedConcurrency: number;
  initialBatches: number;
  scaleUpBatchesPerMinute: number;
  maxBatches: number;
}

/** AWS's numbers with the large ones scaled (never below what a single batch needs). */
export function localLambdaLimits(scale: number = DEFAULT_LOCAL_CONCURRENCY_SCALE): LocalLambdaLimits {
  if (!(scale > 0 && scale <= 1)) throw new Error(`the local Lambda concurrency scale must be in (0, 1]; got ${scale}`);
  const scaled = (value: number): number => Math.max(1, Math.round(value * scale));
  return {
    scale,
    accountConcurrency: scaled(AWS_LAMBDA_LIMITS.accountConcurrency),
    minimumUnreservedConcurrency: scaled(AWS_LAMBDA_LIMITS.minimumUnreservedConcurrency),
    initialBatches: AWS_LAMBDA_LIMITS.initialBatches,
    scaleUpBatchesPerMinute: AWS_LAMBDA_LIMITS.scaleUpBatchesPerMinute,
    maxBatches: scaled(AWS_LAMBDA_LIMITS.maxBatches),
  };
}

/** One line for the start-up banner: which numbers are scaled, and by how much. */
export function describeLocalLambdaLimits(limits: LocalLambdaLimits): string {
  if (limits.scale === 1) return 'as on AWS (account 1000, an SQS event source up to 1000 batches)';
  return (
    `×${limits.scale} of AWS's: account ${limits.accountConcurrency} (AWS ${AWS_LAMBDA_LIMITS.accountConcurrency}), ` +
    `an SQS event source up to ${limits.maxBatches} batches (AWS ${AWS_LAMBDA_LIMITS.maxBatches})`
  );
}

/**
 * The account's concurrent executions, shared by every function of the local stack: a function
 * with reserved concurrency runs at most that many at once and takes nothing from the others;
 * the rest share what is left. An invocation past its limit is throttled (the caller decides
 * what a throttle means: an SQS event source retries it until the batch's visibility ends).
 */
export class LambdaConcurrency {
  private readonly running = new Map<string, number>();
  private unreservedRunning = 0;
  private readonly unreservedLimit: number;

  constructor(
    limits: Pick<LocalLambdaLimits, 'accountConcurrency' | 'minimumUnreservedConcurrency'>,
    private readonly reserved: Readonly<Record<string, number>> = {},
  ) {
    const reservedTotal = Object.values(reserved).reduce((sum, value) => sum + value, 0);
    this.unreservedLimit = limits.accountConcurrency - reservedTotal;
    if (this.unreservedLimit < limits.minimumUnreservedConcurrency) {
      throw new Error(
        `reserved concurrency ${reservedTotal} leaves ${this.unreservedLimit} of the account's ${limits.accountConcurrency}; ` +
          `Lambda keeps at least ${limits.minimumUnreservedConcurrency} unreserved`,
      );
    }
  }

  /** Takes one execution for `functionName`, or answers false when it would be throttled. */
  tryAcquire(functionName: string): boolean {
    const reservation = this.reserved[functionName];
    const current = this.running.get(functionName) ?? 0;
    if (reservation !== undefined) {
      if (current >= reservation) return false;
    } else {
      if (this.unreservedRunning >= this.unreservedLimit) return false;
      this.unreservedRunning++;
    }
    this.running.set(functionName, current + 1);
    return true;
  }

  /** Gives back an execution taken by {@link tryAcquire}. */
  release(functionName: string): void {
    const current = this.running.get(functionName) ?? 0;
    if (current <= 0) return;
    this.running.set(functionName, current - 1);
    if (this.reserved[functionName] === undefined) this.unreservedRunning--;
  }
}
