import {
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';

export interface RedriveResult {
  moved: number;
  status: string;
  /** The queue the messages were moved to. */
  destinationUrl: string;
  /** The queues whose redrive policy names the DLQ (the destination is one of them unless told otherwise). */
  sourceUrls: string[];
}

export interface RedriveOptions {
  /**
   * Where the messages go. @default the queue whose redrive policy names the DLQ; of several
   * (the delivery DLQ serves both lanes), the first by name — in this stack the fast lane, where
   * every delivery starts and from which the delivery function forwards a slow subscriber's
   * messages to the slow lane itself
   */
  destinationUrl?: string;
  /** How long to wait for the task. @default 5 minutes */
  timeoutMs?: number;
}

/** A redrive the caller must say more about (which queue to move to). */
export class RedriveDestinationError extends Error {}

/**
 * Moves every message of a DLQ to a queue with an SQS message move task and waits for the task
 * to finish. The task is always given its `DestinationArn`: without one, SQS moves each message
 * back to the queue its redrive policy moved it from, and the messages the delivery handler
 * sends to the DLQ itself (exhausted retries) have no such queue. The same calls work on AWS
 * and on the local stack's endpoint.
 */
export async function redriveDlq(sqs: SQSClient, dlqUrl: string, options: RedriveOptions = {}): Promise<RedriveResult> {
  const sourceArn = await queueArn(sqs, dlqUrl);
  const sourceUrls = await sourceQueues(sqs, dlqUrl);
  const destinationUrl = options.destinationUrl ?? sourceUrls[0];
  if (!destinationUrl) throw new RedriveDestinationError(`no queue names ${dlqUrl} as its DLQ: give the destination queue's URL`);
  const destinationArn = await queueArn(sqs, destinationUrl);
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  for (;;) {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    // A finished task no longer shows its handle: the newest task is this one.
    const task = Results.find((result) => result.TaskHandle === TaskHandle) ?? Results[0];
    if (task && task.Status !== 'RUNNING') {
      if (task.Status === 'FAILED') throw new Error(`message move task failed: ${task.FailureReason}`);
      return { moved: task.ApproximateNumberOfMessagesMoved ?? 0, status: task.Status ?? 'UNKNOWN', destinationUrl, sourceUrls };
    }
    if (Date.now() > deadline) throw new Error(`message move task ${TaskHandle} still running; check it with ListMessageMoveTasks`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  if (!Attributes?.QueueArn) throw new Error(`no queue at ${queueUrl}`);
  return Attributes.QueueArn;
}

/** The queues whose redrive policy names the DLQ, by name. */
async function sourceQueues(sqs: SQSClient, dlqUrl: string): Promise<string[]> {
  const { queueUrls = [] } = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }));
  const name = (url: string): string => url.slice(url.lastIndexOf('/') + 1);
  return [...queueUrls].sort((a, b) => name(a).localeCompare(name(b)));
}
