import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TestStack, startTestStack } from '../support/local-stack-harness';

let t: TestStack;
/** SQS requests seen at the local AWS endpoint, by action. */
const sqsRequests: string[] = [];
let adapter: typeof import('../../lambdas/adapters/sqs-queue');

beforeAll(async () => {
  t = await startTestStack({ onAwsRequest: (service, action) => service === 'sqs' && sqsRequests.push(action) });
  // The adapter's client is built at import, from the environment the local stack sets.
  adapter = await import('../../lambdas/adapters/sqs-queue');
});
afterAll(() => t.stop());

async function drain(queueUrl: string): Promise<string[]> {
  const client = new SQSClient({});
  const bodies: string[] = [];
  for (;;) {
    // A long poll: a short one asks some of SQS's servers and may answer empty while messages wait.
    const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }));
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((message) => message.Body ?? ''));
  }
}

describe('trySendMessages', () => {
  test('sends every body, more than ten in parallel requests, and reports none unsent', async () => {
    const bodies = Array.from({ length: 23 }, (_, n) => `message ${n} 🚀`);
    const seenBefore = sqsRequests.length;
    await expect(adapter.trySendMessages(t.stack.queues.fanOutDlq.url, bodies)).resolves.toEqual([]);
    // Batched: 23 bodies in three SendMessageBatch requests (10 + 10 + 3), none sent alone.
    const sends = sqsRequests.slice(seenBefore).filter((action) => action.startsWith('SendMessage'));
    expect(sends).toEqual(['SendMessageBatch', 'SendMessageBatch', 'SendMessageBatch']);
    expect((await drain(t.stack.queues.fanOutDlq.url)).sort()).toEqual([...bodies].sort());
  });

  test('reports the indexes SQS refused (a lone surrogate is not a valid character) and sends the rest', async () => {
    const bodies = Array.from({ length: 14 }, (_, n) => (n === 3 || n === 12 ? `broken \uD800 ${n}` : `fine ${n}`));
    const unsent = await adapter.trySendMessages(t.stack.queues.fanOutDlq.url, bodies);
    expect(unsent.map(({ index }) => index)).toEqual([3, 12]);
    for (const { reason } of unsent) expect(reason).toMatch(/invalid|character/i);
    expect((await drain(t.stack.queues.fanOutDlq.url)).sort()).toEqual(bodies.filter((_, n) => n !== 3 && n !== 12).sort());
  });

  test('reports every index of a request that failed as a whole', async () => {
    const unsent = await adapter.trySendMessages(`${t.stack.queues.fanOutDlq.url}-missing`, ['a', 'b']);
    expect(unsent.map(({ index }) => index)).toEqual([0, 1]);
    expect(unsent[0]!.reason).toMatch(/NonExistentQueue|does not exist/i);
    expect(unsent[1]!.reason).toBe(unsent[0]!.reason);
  });

  test('sendMessages throws when any body was not sent', async () => {
    await expect(adapter.sendMessages(t.stack.queues.fanOutDlq.url, ['ok', 'bad \uD800'])).rejects.toThrow(/^SQS did not take 1 of 2 message\(s\): \S.*invalid/i);
    await drain(t.stack.queues.fanOutDlq.url);
  });
});
