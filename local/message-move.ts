import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  Message,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import type { LocalActionHandler } from './aws-endpoint';

/** A queue as the move task sees it, read from the queues' own attributes. */
interface KnownQueue {
  url: string;
  arn: string;
  /** The DLQ this queue's redrive policy names, if any. */
  deadLetterTargetArn?: string;
}

interface MoveTask {
  TaskHandle: string;
  SourceArn: string;
  /** Only when the request named one: otherwise each message goes back to its own source. */
  DestinationArn?: string;
  MaxNumberOfMessagesPerSecond?: number;
  Status: 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove?: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

/**
 * SQS message move tasks, which fauxqs lacks, as the SQS API reference describes them:
 * `StartMessageMoveTask` from a queue that is some queue's DLQ, to `DestinationArn` or, without
 * one, each message back to the queue its redrive policy moved it from (its
 * `DeadLetterQueueSourceArn`); `ListMessageMoveTasks`, `CancelMessageMoveTask`, and
 * `ListDeadLetterSourceQueues`. Moved messages are new messages (new id, new retention period)
 * with the body, attributes and group id of the old. A message without a source (sent to the
 * DLQ directly) cannot go back to one: a task without a destination stops there, FAILED, with
 * that message left in the DLQ (docs/design.md §3.2 on why).
 */
export function localMessageMoves(sqs: () => SQSClient): (action: string) => LocalActionHandler | undefined {
  const tasks: MoveTask[] = [];

  const start: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { SourceArn?: string; DestinationArn?: string; MaxNumberOfMessagesPerSecond?: number };
    const queues = await knownQueues(sqs());
    const source = queues.find((queue) => queue.arn === request.SourceArn);
    if (!source) return sqsError('ResourceNotFoundException', `The resource that you specified for the SourceArn parameter doesn't exist: ${request.SourceArn}`);
    if (!queues.some((queue) => queue.deadLetterTargetArn === source.arn)) {
      return sqsError('InvalidParameterValue', 'Source queue must be configured as a Dead Letter Queue.');
    }
    const destination = request.DestinationArn === undefined ? undefined : queues.find((queue) => queue.arn === request.DestinationArn);
    if (request.DestinationArn !== undefined && !destination) {
      return sqsError('ResourceNotFoundException', `The resource that you specified for the DestinationArn parameter doesn't exist: ${request.DestinationArn}`);
    }
    const rate = request.MaxNumberOfMessagesPerSecond;
    if (rate !== undefined && !(Number.isInteger(rate) && rate >= 1 && rate <= 500)) {
      return sqsError('InvalidParameterValue', 'MaxNumberOfMessagesPerSecond must be between 1 and 500.');
    }
    if (tasks.some((task) => task.SourceArn === source.arn && task.Status === 'RUNNING')) {
      return sqsError('UnsupportedOperation', 'There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
    }
    const { Attributes } = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: source.url, AttributeNames: ['ApproximateNumberOfMessages'] }));
    const task: MoveTask = {
      TaskHandle: randomUUID(),
      SourceArn: source.arn,
      ...(destination ? { DestinationArn: destination.arn } : {}),
      ...(rate !== undefined ? { MaxNumberOfMessagesPerSecond: rate } : {}),
      Status: 'RUNNING',
      ApproximateNumberOfMessagesMoved: 0,
      ApproximateNumberOfMessagesToMove: Number(Attributes?.ApproximateNumberOfMessages ?? 0),
      StartedTimestamp: Date.now(),
    };
    tasks.push(task);
    void move(sqs(), source, queues, task);
    return { status: 200, body: { TaskHandle: task.TaskHandle } };
  };

  const list: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { SourceArn?: string; MaxResults?: number };
    const results = tasks
      .filter((task) => task.SourceArn === request.SourceArn)
      .reverse()
      .slice(0, request.MaxResults ?? 1)
      // A task handle is shown only while the task runs (it serves only to cancel it).
      .map(({ TaskHandle, ...task }) => (task.Status === 'RUNNING' ? { TaskHandle, ...task } : task));
    return { status: 200, body: { Results: results } };
  };

  const cancel: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { TaskHandle?: string };
    const task = tasks.find((candidate) => candidate.TaskHandle === request.TaskHandle && candidate.Status === 'RUNNING');
    if (!task) return sqsError('ResourceNotFoundException', 'Task does not exist.');
    task.Status = 'CANCELLING';
    return { status: 200, body: { ApproximateNumberOfMessagesMoved: task.ApproximateNumberOfMessagesMoved } };
  };

  const deadLetterSources: LocalActionHandler = async (_action, body) => {
    const request = JSON.parse(body.toString('utf8')) as { QueueUrl?: string };
    const client = sqs();
    const queues = await knownQueues(client);
    const dlq = queues.find((queue) => sameQueueUrl(queue.url, request.QueueUrl ?? ''));
    if (!dlq) return sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return { status: 200, body: { queueUrls: queues.filter((queue) => queue.deadLetterTargetArn === dlq.arn).map((queue) => queue.url) } };
  };

  const handlers: Record<string, LocalActionHandler> = {
    StartMessageMoveTask: start,
    ListMessageMoveTasks: list,
    CancelMessageMoveTask: cancel,
    ListDeadLetterSourceQueues: deadLetterSources,
  };
  return (action) => handlers[action];
}

/** Every queue with its ARN and the DLQ its redrive policy names. */
async function knownQueues(sqs: SQSClient): Promise<KnownQueue[]> {
  const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
  return Promise.all(
    QueueUrls.map(async (url) => {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy'] }));
      const policy = Attributes.RedrivePolicy ? (JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string }) : {};
      return { url, arn: Attributes.QueueArn ?? '', deadLetterTargetArn: policy.deadLetterTargetArn };
    }),
  );
}

/** Queue URLs name the same queue when their account and name agree (hosts differ locally). */
function sameQueueUrl(a: string, b: string): boolean {
  const path = (url: string): string => url.replace(/^https?:\/\/[^/]+/, '');
  return path(a) === path(b);
}

async function move(sqs: SQSClient, source: KnownQueue, queues: KnownQueue[], task: MoveTask): Promise<void> {
  const byArn = new Map(queues.map((queue) => [queue.arn, queue]));
  try {
    while (task.Status === 'RUNNING') {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: source.url,
          MaxNumberOfMessages: Math.min(10, task.MaxNumberOfMessagesPerSecond ?? 10),
          VisibilityTimeout: 30,
          // A long poll asks every server: a short one may answer empty while messages wait,
          // and the task ends at the first empty answer (AWS's own move task reads them all).
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      // Messages are moved in order up to the first that has nowhere to go.
      const movable: { message: Message; to: KnownQueue }[] = [];
      let stranded: Message | undefined;
      for (const message of Messages) {
        const to = byArn.get(task.DestinationArn ?? message.Attributes?.DeadLetterQueueSourceArn ?? '');
        if (!to || stranded) {
          stranded ??= message;
          await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: source.url, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 }));
          continue;
        }
        movable.push({ message, to });
      }
      for (const to of new Set(movable.map((entry) => entry.to))) {
        const batch = movable.filter((entry) => entry.to === to).map((entry) => entry.message);
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: to.url,
            Entries: batch.map((message, index) => ({
              Id: String(index),
              MessageBody: message.Body ?? '',
              MessageAttributes: message.MessageAttributes,
              MessageGroupId: message.Attributes?.MessageGroupId,
            })),
          }),
        );
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: source.url,
            Entries: batch.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
          }),
        );
      }
      task.ApproximateNumberOfMessagesMoved += movable.length;
      if (stranded) {
        task.Status = 'FAILED';
        const original = stranded.Attributes?.DeadLetterQueueSourceArn;
        task.FailureReason = original
          ? `message ${stranded.MessageId}: its source queue ${original} no longer exists`
          : `message ${stranded.MessageId} has no DeadLetterQueueSourceArn (it was sent to the DLQ directly, not moved there by a redrive policy): ` +
            'give DestinationArn to move such messages';
        return;
      }
      if (task.MaxNumberOfMessagesPerSecond) await sleep((1000 * movable.length) / task.MaxNumberOfMessagesPerSecond);
    }
    task.Status = task.Status === 'CANCELLING' ? 'CANCELLED' : 'COMPLETED';
  } catch (error) {
    task.Status = 'FAILED';
    task.FailureReason = String(error);
  }
}

function sqsError(type: string, message: string): { status: number; body: unknown } {
  return { status: 400, body: { __type: `com.amazonaws.sqs#${type}`, message } };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
