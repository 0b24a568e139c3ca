import { Agent } from 'node:http';
import { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import { runAsFunction } from '../iam/function-credentials';
import { LambdaConcurrency, LocalLambdaLimits } from '../lambda-concurrency';
import { InvocationTrace, LambdaThrottledError, SqsEventSource, SqsHandler, startSqsEventSource } from '../sqs-event-source';
import { StackModel, TemplateModelError } from '../template/stack-model';
import type { QueueRef } from './local-resources';
import type { AwsSideSqs } from './aws-side-sqs';

/**
 * The SDK's SQS client for what the local stack does to SQS as AWS would, outside any function:
 * creating the template's queues, and SQS's own message move tasks (the DLQ redrive). Lambda's
 * pollers and EventBridge's sender, which call far more often, use `awsSideSqs`
 * (`aws-side-sqs.ts`). Its agent has no socket cap either (the SDK's default is 50 sockets a
 * client, and when the pollers shared this client the slow lane's 50 idle long polls held them
 * all; docs/design.md §3.14). No MD5 of bodies, and no logger middleware copying each request
 * for a logger that discards it.
 */
export function awsSideSqsClient(config: SQSClientConfig = {}): SQSClient {
  const sqs = new SQSClient({ md5: false, requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: Infinity }) }, ...config });
  sqs.middlewareStack.remove('loggerMiddleware');
  return sqs;
}

/** What the event sources run on: the loaded handlers and the created queues, by logical id. */
export interface EventSourceWiring {
  handlers: ReadonlyMap<string, unknown>;
  queues: ReadonlyMap<string, QueueRef>;
  /** Queues whose visibility timeout the local stack shortened. */
  visibility: ReadonlyMap<string, number>;
  /** Function timeouts the local stack shortened, by function logical id. */
  functionTimeouts: ReadonlyMap<string, number>;
  /** Maximum concurrency by queue, in place of the template's (the bench's knob). */
  concurrency: ReadonlyMap<string, number | undefined>;
  /** Lambda's concurrency numbers in force (AWS's, the large ones scaled). */
  limits: LocalLambdaLimits;
  sqs: AwsSideSqs;
  region: string;
  onError?: (error: unknown) => void;
  onThrottle?: (error: LambdaThrottledError) => void;
  onInvocation?: (invocation: InvocationTrace) => void;
}

/**
 * The SQS event source mappings, with the template's settings: batch size and window, maximum
 * concurrency, partial batch responses, the function's timeout, and one account of concurrent
 * executions shared by every function, the template's reserved concurrency carved out of it.
 * Fairness among tenants is the queues' own (fair queues on `MessageGroupId`, in the SQS layer):
 * the event sources take what `ReceiveMessage` returns, as Lambda's pollers do.
 */
export function startEventSources(model: StackModel, wiring: EventSourceWiring): SqsEventSource[] {
  const { handlers, queues, visibility, functionTimeouts, concurrency: overrides, limits, sqs, region, onError, onThrottle, onInvocation } = wiring;
  const reserved = Object.fromEntries(
    model.functions.flatMap((fn) => (fn.reservedConcurrency === undefined ? [] : [[fn.logicalId, fn.reservedConcurrency] as const])),
  );
  let account: LambdaConcurrency;
  try {
    account = new LambdaConcurrency(limits, reserved);
  } catch (error) {
    throw new TemplateModelError((error as Error).message);
  }
  return model.eventSources
    .filter((mapping) => mapping.enabled)
    .map((mapping) => {
      const fn = model.functions.find((candidate) => candidate.logicalId === mapping.functionId)!;
      const queue = model.queues.find((candidate) => candidate.logicalId === mapping.queueId)!;
      // Lambda polls and deletes with the function's execution role.
      return runAsFunction(fn.logicalId, () => startSqsEventSource({
        sqs,
        region,
        onError,
        onThrottle,
        onInvocation,
        limits,
        concurrency: account,
        queueUrl: queues.get(mapping.queueId)!.url,
        queueArn: queues.get(mapping.queueId)!.arn,
        functionName: fn.logicalId,
        handler: handlers.get(fn.logicalId) as SqsHandler,
        batchSize: mapping.batchSize,
        maxBatchingWindowSeconds: mapping.maxBatchingWindowSeconds,
        maximumConcurrency: overrides.get(mapping.queueId) ?? mapping.maximumConcurrency,
        reportBatchItemFailures: mapping.reportBatchItemFailures,
        functionTimeoutSeconds: functionTimeouts.get(fn.logicalId) ?? fn.timeoutSeconds,
        visibilityTimeoutSeconds: visibility.get(queue.logicalId) ?? queue.visibilityTimeoutSeconds,
      }));
    });
}
