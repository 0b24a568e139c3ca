/** The cost phase: measured usage per delivery combined with the deployed functions' memory and list prices. */
import { FunctionUsage, LAMBDA_ASSUMPTIONS, UsagePerDelivery, costPerMillionDeliveries } from './cost-model';

/** Measured usage the cost model combines with the deployed functions' memory. */
export interface UsageInputs {
  eventBridgeEventsPerDelivery: number;
  deliveryInvocationsPerDelivery: number;
  fanOutInvocationsPerDelivery: number;
  eventsPerDelivery: number;
  memoryMB: Record<string, number>;
}

/** The usage per delivery behind the cost, by function. */
type Usage = UsagePerDelivery & { functions: { fanOut: FunctionUsage; delivery: FunctionUsage } };

export function estimateCost(figures: Record<string, number>, inputs: UsageInputs): ReturnType<typeof costPerMillionDeliveries> & { usage: Usage } {
  const memoryOf = (name: string): number => {
    const memory = Object.entries(inputs.memoryMB).find(([logicalId]) => logicalId.includes(name))?.[1];
    if (memory === undefined) throw new Error(`no ${name} function in the synthesized template`);
    return memory;
  };
  const usage: Usage = {
    eventBridgeEvents: inputs.eventBridgeEventsPerDelivery,
    sqsRequests: figures.sqsRequestsPerDeliveryOnAws!,
    dynamoWriteUnits: figures.dynamoWriteUnitsPerDelivery!,
    dynamoReadUnits: figures.dynamoReadUnitsPerDelivery!,
    functions: {
      fanOut: {
        memoryMB: memoryOf('FanOut'),
        cpuMsPerDelivery: figures.cpuMsPerEvent_fanOutHandler! * inputs.eventsPerDelivery,
        invocationsPerDelivery: inputs.fanOutInvocationsPerDelivery,
        waitMsPerInvocation: LAMBDA_ASSUMPTIONS.waitMsPerInvocation.fanOut,
      },
      delivery: {
        memoryMB: memoryOf('Deliver'),
        cpuMsPerDelivery: figures.cpuMsPerDelivery_deliveryHandler!,
        invocationsPerDelivery: inputs.deliveryInvocationsPerDelivery,
        waitMsPerInvocation: LAMBDA_ASSUMPTIONS.waitMsPerInvocation.delivery,
      },
    },
  };
  return { ...costPerMillionDeliveries(usage), usage };
}

