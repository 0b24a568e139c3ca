import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  Message,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { chunkBySize } from '../../lambdas/core/batching';

export interface ReplayResult {
  /** Events re-sent to the rule's target and deleted from the DLQ. */
  replayed: number;
  /** Messages left in the DLQ: not an EventBridge event, or the target refused them again. */
  left: { messageId: string; reason: string }[];
}

export interface ReplayOptions {
  /** The rule's target queue; @default the queue named by each message's `TARGET_ARN` attribute */
  targetQueueUrl?: string;
  /** How long a received message stays hidden while it is replayed. @default 60 */
  visibilityTimeoutSeconds?: number;
}

/**
 * Replays the event rule's DLQ. EventBridge dead-letters an event it could not hand to the
 * rule's target (the fan-out queue) as the event envelope itself, with `TARGET_ARN` among the
 * message attributes; SQS message move tasks serve only DLQs of SQS queues, so this reads the
 * DLQ and sends each envelope, unchanged, to that target, then deletes it from the DLQ — only
 * once it is sent. The envelope keeps its EventBridge `id`, so every webhook it becomes has the
 * webhook-id it would have had (`msg_<event id>_<subscription id>`): a replay that runs twice,
 * or an event that had partly arrived, is deduplicated by receivers. (Publishing the detail again
 * with PutEvents would give it a new id and new webhook-ids.)
 */
export async function replayRuleDlq(sqs: SQSClient, dlqUrl: string, options: ReplayOptions = {}): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, left: [] };
  const seen = new Set<string>();
  const targets = new Map<string, string>();
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: options.visibilityTimeoutSeconds ?? 60,
        MessageAttributeNames: ['All'],
      }),
    );
    // A message left in the DLQ comes back once its visibility ends: each is tried once per run.
    const fresh = Messages.filter((message) => message.MessageId && !seen.has(message.MessageId));
    if (fresh.length === 0) return result;
    for (const message of fresh) seen.add(message.MessageId!);

    const byTarget = new Map<string, Message[]>();
    for (const message of fresh) {
      const problem = envelopeProblem(message.Body);
      const targetArn = message.MessageAttributes?.TARGET_ARN?.StringValue;
      if (problem) {
        result.left.push({ messageId: message.MessageId!, reason: problem });
        continue;
      }
      const target = options.targetQueueUrl ?? (targetArn && (await queueUrlOf(sqs, targetArn, targets)));
      if (!target) {
        result.left.push({ messageId: message.MessageId!, reason: 'no TARGET_ARN attribute: pass the target queue URL' });
        continue;
      }
      byTarget.set(target, [...(byTarget.get(target) ?? []), message]);
    }
    // Envelopes reach ~257 KB: ten of them would pass SendMessageBatch's total (BatchRequestTooLong).
    const batches = [...byTarget].flatMap(([target, messages]) =>
      chunkBySize(messages, (message) => Buffer.byteLength(message.Body ?? '')).map((batch) => [target, batch] as const),
    );
    for (const [target, messages] of batches) {
      const sent = await sendAll(sqs, target, messages, result);
      if (sent.length === 0) continue;
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: dlqUrl,
          Entries: sent.map((message, n) => ({ Id: String(n), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      // An undeleted message is replayed again by a later run: same event id, deduplicated.
      result.replayed += sent.length - (deleted.Failed?.length ?? 0);
      for (const failed of deleted.Failed ?? []) {
        const message = sent[Number(failed.Id)];
        if (message) result.left.push({ messageId: message.MessageId!, reason: `sent, but not deleted from the DLQ: ${failed.Message}` });
      }
    }
  }
}

/** Sends the envelopes byte for byte; returns the messages the target took. */
async function sendAll(sqs: SQSClient, queueUrl: string, messages: Message[], result: ReplayResult): Promise<Message[]> {
  const response = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      // As the rule target sends them: the body alone, no message group (docs/design.md §3.2).
      Entries: messages.map((message, n) => ({ Id: String(n), MessageBody: message.Body })),
    }),
  );
  for (const failed of response.Failed ?? []) {
    const message = messages[Number(failed.Id)];
    if (message) result.left.push({ messageId: message.MessageId!, reason: `the target refused it again: ${failed.Code} ${failed.Message ?? ''}`.trim() });
  }
  return (response.Successful ?? []).map((entry) => messages[Number(entry.Id)]).filter((message): message is Message => !!message);
}

/** Why a DLQ message is not an EventBridge event envelope, if it is not. */
function envelopeProblem(body: string | undefined): string | undefined {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body ?? '');
  } catch {
    return 'the body is not JSON';
  }
  const fields = envelope as Record<string, unknown>;
  if (typeof envelope !== 'object' || envelope === null) return 'the body is not an event';
  for (const key of ['id', 'source', 'detail-type']) {
    if (typeof fields[key] !== 'string') return `the body is not an EventBridge event (no ${key})`;
  }
  if (typeof fields.detail !== 'object' || fields.detail === null) return 'the body is not an EventBridge event (no detail)';
  return undefined;
}

/** `arn:aws:sqs:<region>:<account>:<name>` → its queue URL, looked up once per run. */
async function queueUrlOf(sqs: SQSClient, queueArn: string, cache: Map<string, string>): Promise<string | undefined> {
  const cached = cache.get(queueArn);
  if (cached) return cached;
  const [, , service, , account, name] = queueArn.split(':');
  if (service !== 'sqs' || !account || !name) return undefined;
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
  if (QueueUrl) cache.set(queueArn, QueueUrl);
  return QueueUrl;
}
