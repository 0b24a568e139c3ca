import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';

export interface RedriveResult {
  moved: number;
  status: string;
}

/**
 * Moves every message of a DLQ back to the queue it dead-letters for, with an SQS message
 * move task, and waits for the task to finish. The same calls work on AWS and on the local
 * stack's endpoint.
 */
export async function redriveDlq(sqs: SQSClient, dlqUrl: string, timeoutMs = 300_000): Promise<RedriveResult> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
  const sourceArn = Attributes?.QueueArn;
  if (!sourceArn) throw new Error(`no queue at ${dlqUrl}`);
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    const task = Results.find((result) => result.TaskHandle === TaskHandle) ?? Results[0];
    if (task && task.Status !== 'RUNNING') {
      if (task.Status === 'FAILED') throw new Error(`message move task failed: ${task.FailureReason}`);
      return { moved: task.ApproximateNumberOfMessagesMoved ?? 0, status: task.Status ?? 'UNKNOWN' };
    }
    if (Date.now() > deadline) throw new Error('message move task still running; check it with ListMessageMoveTasks');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
