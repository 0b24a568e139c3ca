/** The handler CPU phase: the fan-out and delivery handlers invoked directly in a worker thread. */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CreateQueueCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { Bench, DELIVERY_CONCURRENCY, FAN_OUT_CONCURRENCY, HANDLER_CPU_DELIVERIES, HANDLER_CPU_EVENTS, PROJECT } from './bench-context';
import type { HandlerCpu, HandlerCpuRequest } from './handler-cpu-worker';
import { clockTicksPerSecond } from './process-cpu';

/**
 * The handlers' own CPU: `handler-cpu-worker.ts` invokes them directly in a worker thread and
 * reads that thread's CPU time, while the stack's pipeline is idle. Its fan-out writes to a
 * queue nobody reads, so no deliveries run on the main thread meanwhile; its deliveries POST
 * to the receiver and log their attempts like the pipeline's.
 */
export async function measureHandlerCpu(bench: Bench): Promise<{ fanOut: HandlerCpu; delivery: HandlerCpu }> {
  const { QueueUrl: sink } = await bench.sqs.send(new CreateQueueCommand({ QueueName: 'bench-fan-out-sink' }));
  const request: HandlerCpuRequest = {
    projectId: PROJECT,
    subscriptionIds: bench.subscriptionIds,
    events: HANDLER_CPU_EVENTS,
    deliveries: HANDLER_CPU_DELIVERIES,
    fanOutConcurrency: FAN_OUT_CONCURRENCY,
    deliveryConcurrency: DELIVERY_CONCURRENCY,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
  // The worker runs TypeScript through tsx's CommonJS hook, registered in that thread.
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(path.join(__dirname, 'handler-cpu-worker.ts'))});`, {
    eval: true,
    workerData: request,
    env: { ...process.env, DELIVERY_QUEUE_URL: sink },
  });
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the handler CPU worker exited with code ${code}`)));
    });
  } finally {
    await worker.terminate();
    await bench.sqs.send(new PurgeQueueCommand({ QueueUrl: sink }));
  }
}

