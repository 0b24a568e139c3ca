import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { LocalActionHandler } from './aws-endpoint';

/** A queue as the move task knows it. */
export interface MoveQueue {
  url: string;
  arn: string;
  /** The queue this one is the DLQ of: where a move without a destination goes. */
  redrivesTo?: string;
}

interface MoveTask {
  TaskHandle: string;
  SourceArn: string;
  DestinationArn: string;
  Status: 'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove?: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

/**
 * SQS message move tasks, which fauxqs lacks: `StartMessageMoveTask` (DLQ redrive, to the
 * source queue by default), `ListMessageMoveTasks` and `CancelMessageMoveTask`, with the
 * request and response shapes of SQS's JSON protocol.
 */
export function localMessageMoves(sqs: () => SQSClient, queues: () => MoveQueue[]): (action: string) => LocalActionHandler | undefined {
  const tasks: MoveTask[] = [];
  const byArn = (arn: unknown): MoveQueue | undefined => queues().find((queue) => queue.arn === arn);

  const start: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { SourceArn?: string; DestinationArn?: string };
    const source = byArn(request.SourceArn);
    if (!source) return sqsError('ResourceNotFoundException', `source queue ${request.SourceArn} does not exist`);
    const destinationArn = request.DestinationArn ?? source.redrivesTo;
    const destination = byArn(destinationArn);
    if (!destination) return sqsError('InvalidParameterValue', 'DestinationArn is required for a queue that is no DLQ');
    if (tasks.some((task) => task.SourceArn === source.arn && task.Status === 'RUNNING')) {
      return sqsError('UnsupportedOperation', 'a message move task is already running on this queue');
    }
    const task: MoveTask = {
      TaskHandle: randomUUID(),
      SourceArn: source.arn,
      DestinationArn: destination.arn,
      Status: 'RUNNING',
      ApproximateNumberOfMessagesMoved: 0,
      StartedTimestamp: Date.now(),
    };
    tasks.push(task);
    void move(sqs(), source.url, destination.url, task);
    return { status: 200, body: { TaskHandle: task.TaskHandle } };
  };

  const list: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { SourceArn?: string };
    const results = tasks.filter((task) => task.SourceArn === request.SourceArn).reverse();
    return { status: 200, body: { Results: results } };
  };

  const cancel: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { TaskHandle?: string };
    const task = tasks.find((candidate) => candidate.TaskHandle === request.TaskHandle && candidate.Status === 'RUNNING');
    if (!task) return sqsError('ResourceNotFoundException', 'no running task with this handle');
    task.Status = 'CANCELLED';
    return { status: 200, body: { ApproximateNumberOfMessagesMoved: task.ApproximateNumberOfMessagesMoved } };
  };

  const handlers: Record<string, LocalActionHandler> = {
    StartMessageMoveTask: start,
    ListMessageMoveTasks: list,
    CancelMessageMoveTask: cancel,
  };
  return (action) => handlers[action];
}

async function move(sqs: SQSClient, sourceUrl: string, destinationUrl: string, task: MoveTask): Promise<void> {
  try {
    while (task.Status === 'RUNNING') {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: sourceUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: destinationUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), MessageBody: message.Body ?? '' })),
        }),
      );
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: sourceUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      task.ApproximateNumberOfMessagesMoved += Messages.length;
    }
    if (task.Status === 'RUNNING') task.Status = 'COMPLETED';
  } catch (error) {
    task.Status = 'FAILED';
    task.FailureReason = String(error);
  }
}

function sqsError(type: string, message: string): { status: number; body: unknown } {
  return { status: 400, body: { __type: `com.amazonaws.sqs#${type}`, message } };
}
