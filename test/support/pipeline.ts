import { EventBridgeClient, PutEventsCommand, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TestStack } from './local-stack-harness';

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
        Detail: JSON.stringify(event.detail),
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
