/**
 * The AWS bill of one million deliveries, from the usage the benchmark measures per delivery
 * and list prices. Lambda bills duration, not CPU, so its part rests on the stated
 * assumptions below; every other part is measured usage times price.
 */

/** List prices in USD per unit, us-east-1, as of 2025 (beyond the free tiers). */
export const PRICES_US_EAST_1_2025 = {
  /** EventBridge custom events; each 64 KB chunk of an entry is one event. */
  eventBridgeEvent: 1.0 / 1e6,
  /** SQS standard queue requests; each 64 KB chunk of a request is one request. */
  sqsRequest: 0.4 / 1e6,
  /** DynamoDB on-demand write request unit (1 KB) and read request unit (4 KB, strongly consistent). */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** Lambda on arm64. */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
} as const;

/** How measured CPU becomes billed Lambda duration. */
export const LAMBDA_ASSUMPTIONS = {
  /** A function gets one vCPU at 1,769 MB and a proportional share below (AWS documentation). */
  mbPerVcpu: 1769,
  /** A core of the machine running the benchmark counts as one Graviton vCPU (not verified). */
  coreToVcpu: 1,
  /**
   * Time an invocation waits on the network beyond its CPU, billed all the same: fan-out, one
   * Query and one SendMessageBatch round trip (records run in parallel); delivery, one
   * BatchGetItem, the slowest POST of the batch to a fast subscriber and one BatchWriteItem.
   */
  waitMsPerInvocation: { fanOut: 15, delivery: 40 },
} as const;

/** One function's share of a delivery. */
export interface FunctionUsage {
  memoryMB: number;
  cpuMsPerDelivery: number;
  invocationsPerDelivery: number;
  waitMsPerInvocation: number;
}

/** What one delivery uses, as measured (SQS and EventBridge already in 64 KB chunks). */
export interface UsagePerDelivery {
  eventBridgeEvents: number;
  sqsRequests: number;
  dynamoWriteUnits: number;
  dynamoReadUnits: number;
  functions: Record<string, FunctionUsage>;
}

/** Billed duration of a function per delivery, in GB-seconds. */
function gbSeconds(usage: FunctionUsage): number {
  const vcpuShare = Math.min(1, usage.memoryMB / LAMBDA_ASSUMPTIONS.mbPerVcpu);
  const billedMs = (usage.cpuMsPerDelivery * LAMBDA_ASSUMPTIONS.coreToVcpu) / vcpuShare + usage.waitMsPerInvocation * usage.invocationsPerDelivery;
  return (billedMs / 1000) * (usage.memoryMB / 1024);
}

/** USD per million deliveries, by service, and the Lambda GB-seconds per delivery behind them. */
export function costPerMillionDeliveries(usage: UsagePerDelivery): { usd: Record<string, number>; lambdaGbSecondsPerDelivery: number } {
  const functions = Object.values(usage.functions);
  const lambdaGbSecondsPerDelivery = functions.reduce((sum, fn) => sum + gbSeconds(fn), 0);
  const perDelivery: Record<string, number> = {
    eventBridge: usage.eventBridgeEvents * PRICES_US_EAST_1_2025.eventBridgeEvent,
    sqs: usage.sqsRequests * PRICES_US_EAST_1_2025.sqsRequest,
    dynamoDbWrites: usage.dynamoWriteUnits * PRICES_US_EAST_1_2025.dynamoWriteUnit,
    dynamoDbReads: usage.dynamoReadUnits * PRICES_US_EAST_1_2025.dynamoReadUnit,
    lambdaRequests: functions.reduce((sum, fn) => sum + fn.invocationsPerDelivery, 0) * PRICES_US_EAST_1_2025.lambdaRequest,
    lambdaDuration: lambdaGbSecondsPerDelivery * PRICES_US_EAST_1_2025.lambdaArmGbSecond,
  };
  const usd = Object.fromEntries(Object.entries(perDelivery).map(([name, value]) => [name, value * 1e6]));
  usd.total = Object.values(usd).reduce((a, b) => a + b, 0);
  return { usd, lambdaGbSecondsPerDelivery };
}
