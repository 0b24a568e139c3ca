import type { SQSClient } from '@aws-sdk/client-sqs';
import { SqsEventSource, SqsHandler, startSqsEventSource } from '../sqs-event-source';
import { StackModel, TemplateModelError } from '../template/stack-model';
import type { QueueRef } from './local-resources';

/** What the event sources run on: the loaded handlers and the created queues, by logical id. */
export interface EventSourceWiring {
  handlers: ReadonlyMap<string, unknown>;
  queues: ReadonlyMap<string, QueueRef>;
  /** Queues whose visibility timeout the local stack shortened. */
  visibility: ReadonlyMap<string, number>;
  /** Concurrent batches by queue, in place of the template's (the bench's knob). */
  concurrency: ReadonlyMap<string, number | undefined>;
  sqs: SQSClient;
  region: string;
  onError?: (error: unknown) => void;
}

/**
 * The SQS event source mappings, with the template's settings: batch size and window, and as
 * many concurrent batches as the mapping's maximum concurrency, else the function's reserved
 * concurrency, allow. The local event sources still share each receive among tenants (the
 * message body's project) until the SQS layer serves fair queues itself (issue 17, part C).
 */
export function startEventSources(model: StackModel, wiring: EventSourceWiring): SqsEventSource[] {
  const { handlers, queues, visibility, concurrency: overrides, sqs, region, onError } = wiring;
  return model.eventSources
    .filter((mapping) => mapping.enabled)
    .map((mapping) => {
      const fn = model.functions.find((candidate) => candidate.logicalId === mapping.functionId)!;
      const queue = model.queues.find((candidate) => candidate.logicalId === mapping.queueId)!;
      if (!mapping.reportBatchItemFailures) {
        throw new TemplateModelError(`event source mapping ${mapping.logicalId}: the local event source implements ReportBatchItemFailures only`);
      }
      const concurrency = overrides.get(mapping.queueId) ?? Math.min(mapping.maximumConcurrency ?? Infinity, fn.reservedConcurrency ?? Infinity);
      if (!Number.isFinite(concurrency)) {
        throw new TemplateModelError(`event source mapping ${mapping.logicalId}: no maximum concurrency and no reserved concurrency; the local stack runs capped event sources only`);
      }
      return startSqsEventSource({
        sqs,
        region,
        onError,
        queueUrl: queues.get(mapping.queueId)!.url,
        queueArn: queues.get(mapping.queueId)!.arn,
        functionName: fn.logicalId,
        handler: handlers.get(fn.logicalId) as SqsHandler,
        batchSize: mapping.batchSize,
        maxBatchingWindowSeconds: mapping.maxBatchingWindowSeconds,
        concurrency,
        functionTimeoutSeconds: fn.timeoutSeconds,
        visibilityTimeoutSeconds: visibility.get(queue.logicalId) ?? queue.visibilityTimeoutSeconds,
        tenantOf: tenantOfBody,
      });
    });
}

/** A message's project: a delivery's `projectId`, an event's `detail.id_project`; '' when neither. */
function tenantOfBody(body: string): string {
  try {
    const message = JSON.parse(body) as { projectId?: unknown; detail?: { id_project?: unknown } } | null;
    const tenant = message?.projectId ?? message?.detail?.id_project;
    return typeof tenant === 'string' ? tenant : '';
  } catch {
    return '';
  }
}

