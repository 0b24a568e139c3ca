import { EventBridgeClient, PutEventsCommand, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { stringifyJson } from '../../lambdas/core/json-text';
import { TestStack } from './local-stack-harness';
import { startReceiver } from './receiver';

/** Publishes Tiledesk events to the local bus as the platform would (one PutEvents call). */
export async function publish(
  stack: TestStack,
  events: { type: string; detail: Record<string, unknown> }[],
): Promise<PutEventsResultEntry[]> {
  const client = new EventBridgeClient({ endpoint: stack.stack.awsEndpoint });
  const result = await client.send(
    new PutEventsCommand({
      Entries: events.map((event) => ({
        EventBusName: stack.stack.busName,
        Source: 'tiledesk',
        DetailType: event.type,
        // Without recursion: V8's JSON.stringify overflows on the deepest payloads the property tests publish.
        Detail: stringifyJson(event.detail),
      })),
    }),
  );
  return result.Entries ?? [];
}

/** Creates a subscription through the API and returns it with its secret. */
export async function subscribe(
  stack: TestStack,
  projectId: string,
  event: string,
  target: string,
): Promise<{ _id: string; secret: string }> {
  const reply = await stack.api('POST', `/${projectId}/subscriptions`, {
    token: stack.tokenFor({ [projectId]: 'owner' }),
    body: { event, target },
  });
  if (reply.status !== 200) throw new Error(`subscribe failed: ${reply.status} ${reply.text}`);
  return reply.body as unknown as { _id: string; secret: string };
}

/** An attempt as the logs API shows it. */
export interface LoggedAttempt {
  attempt: number;
  outcome: string;
  statusCode?: number;
  error?: string;
  errorKind?: string;
  webhookId: string;
  responseBody?: string;
  durationMs: number;
  attemptedAt: string;
  nextAttemptAt?: string;
}

/** The logs of a subscription, oldest first. */
export async function logsOf(stack: TestStack, projectId: string, subscriptionId: string): Promise<LoggedAttempt[]> {
  const reply = await stack.api('GET', `/${projectId}/subscriptions/${subscriptionId}/logs?limit=200`, {
    token: stack.tokenFor({ [projectId]: 'owner' }),
  });
  if (reply.status !== 200) throw new Error(`logs failed: ${reply.status} ${reply.text}`);
  return ((reply.body.items as LoggedAttempt[]) ?? []).slice().reverse();
}

/** Retries `check` until it stops throwing, or throws its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Reads up to `max` messages of a queue (e.g. a DLQ) and leaves them there. */
export async function peekQueue(stack: TestStack, queueUrl: string, max = 10): Promise<string[]> {
  const client = new SQSClient({ endpoint: stack.stack.awsEndpoint });
  const { Messages } = await client.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 1, VisibilityTimeout: 0 }),
  );
  return (Messages ?? []).map((message) => message.Body ?? '');
}

let barriers = 0;

/**
 * A barrier for proving absence: publishes a sentinel event after the events under test and
 * waits until a sentinel receiver has it. It travels the same bus, fan-out and delivery queue,
 * so once it is in, whatever the earlier events would have delivered first has had its turn;
 * check the counts after it. With `afterRetries`, the sentinel's receiver fails that many times
 * first, so retries on the stack's own schedule (a duplicate after a success, a retry after a
 * dead letter or a 410) have had their turn too. It ends once the sentinel's attempts are
 * logged, so the delivery batches before it have finished (and printed their logs).
 */
export async function barrier(stack: TestStack, { afterRetries = 0 } = {}): Promise<void> {
  const projectId = `barrier-${++barriers}`;
  const sentinel = await startReceiver((index) => (index < afterRetries ? { status: 503 } : { status: 200 }));
  try {
    const subscription = await subscribe(stack, projectId, 'event.emit', sentinel.url);
    await publish(stack, [{ type: 'event.emit', detail: { id_project: projectId, name: 'barrier' } }]);
    await sentinel.waitFor(afterRetries + 1, 30_000);
    await eventually(async () => {
      const logs = await logsOf(stack, projectId, subscription._id);
      if (!logs.some((log) => log.outcome === 'delivered')) throw new Error(`barrier ${projectId} not logged yet`);
    });
  } finally {
    await sentinel.close();
  }
}

/** An event as EventBridge writes it to an SQS target (the fan-out queue's message body). */
export const eventBridgeEnvelope = (id: string, type: string, detail: Record<string, unknown>): string =>
  JSON.stringify({
    version: '0',
    id,
    'detail-type': type,
    source: 'tiledesk',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  });
