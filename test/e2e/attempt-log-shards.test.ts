// Attempt logs are spread over several partition keys (hot keys), and pages merge them: paging
// through a subscription's logs or a project's history gives every attempt once, newest first.
import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Attempt } from '../../lambdas/core/attempt';
import { AWS_CALLS, TABLE_KEYS } from '../../lambdas/core/settings';
import { TestStack, startTestStack } from '../support/local-stack-harness';

let t: TestStack;
let store: import('../../lambdas/adapters/attempt-log-store').AttemptLogStore;
const PROJECT = 'p-shards';
const COUNT = 120;

beforeAll(async () => {
  t = await startTestStack();
  const { AttemptLogStore } = await import('../../lambdas/adapters/attempt-log-store');
  store = new AttemptLogStore(t.stack.tableName);
  const start = Date.now() - COUNT * 1000;
  const attempts: Attempt[] = Array.from({ length: COUNT }, (_, n) => ({
    // The shard is the id's last hex digit: each subscription's ids cycle through all 16 of them
    // (random ones left a shard empty now and then: 8 × (7/8)^60, one run in 400).
    logId: `${String(start + n * 1000).padStart(14, '0')}-${randomBytes(5).toString('hex').slice(0, 9)}${(Math.floor(n / 2) % 16).toString(16)}`,
    projectId: PROJECT,
    subscriptionId: n % 2 === 0 ? 'sub-a' : 'sub-b',
    webhookId: `msg_${n}`,
    eventId: `e${n}`,
    event: 'request.create',
    target: 'https://example.com/hook',
    attempt: 1,
    outcome: 'delivered',
    durationMs: 1,
    attemptedAt: new Date(start + n * 1000).toISOString(),
    payload: { id_project: PROJECT, n },
  }));
  await store.write(attempts);
});

afterAll(() => t?.stop());

async function pageThrough(list: (cursor?: string) => Promise<{ items: Attempt[]; nextCursor: string | null }>): Promise<Attempt[]> {
  const items: Attempt[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await list(cursor);
    items.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return items;
}

it('spreads one subscription over every shard', async () => {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: t.stack.awsEndpoint }));
  const { Items = [] } = await client.send(new ScanCommand({ TableName: t.stack.tableName }));
  const keys = new Set(Items.map((item) => String(item.pk)).filter((pk) => pk.startsWith(`LOGS#${PROJECT}#sub-a#`)));
  expect(keys.size).toBe(TABLE_KEYS.attemptLogShards);
});

it('pages a subscription newest first, each attempt once', async () => {
  const items = await pageThrough((cursor) => store.listBySubscription(PROJECT, 'sub-a', 7, cursor));
  expect(items).toHaveLength(COUNT / 2);
  expect(items.map((item) => item.logId)).toEqual(items.map((item) => item.logId).sort().reverse());
  expect(items[0]!.payload).toEqual({ id_project: PROJECT, n: COUNT - 2 });
});

it('pages a project history newest first across subscriptions and shards, each attempt once', async () => {
  const items = await pageThrough((cursor) => store.listByProject(PROJECT, ['sub-a', 'sub-b'], 11, cursor));
  expect(items).toHaveLength(COUNT);
  expect(new Set(items.map((item) => item.logId)).size).toBe(COUNT);
  expect(items.map((item) => item.logId)).toEqual(items.map((item) => item.logId).sort().reverse());
});

it('finds any one attempt by its log id', async () => {
  const [newest] = (await store.listBySubscription(PROJECT, 'sub-b', 1)).items;
  expect(await store.get(PROJECT, 'sub-b', newest!.logId)).toEqual(newest);
});

it("pages recover's light listing oldest first, each attempt once, with a log id as every cut", async () => {
  // Three a shard per page: far fewer than the subscription holds, as past recover's 250 a shard.
  const seen: string[] = [];
  let fromKey = '0';
  for (let pages = 0; pages < 100; pages++) {
    const page = await store.listPageFrom(PROJECT, 'sub-a', fromKey, 3);
    seen.push(...page.attempts.map((attempt) => attempt.logId));
    if (page.nextKey === undefined) break;
    expect(page.nextKey).toMatch(/^\d{14}-/);
    expect(page.attempts.length).toBeGreaterThan(0);
    fromKey = page.nextKey;
  }
  expect(seen).toHaveLength(COUNT / 2);
  expect(new Set(seen).size).toBe(COUNT / 2);
});

it('merges a large history at most AWS_CALLS.callsAtOnce queries at a time, so none times out waiting for a socket', async () => {
  // 100 subscriptions: 800 partitions, all read dry at once. Started together, they queued for
  // the SDK's 50 sockets with their request timeouts running, and on a busy machine the last
  // ones timed out unsent (the history answered 503).
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: t.stack.awsEndpoint }));
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  let inFlight = 0;
  let most = 0;
  Object.assign(client, {
    send: async (command: unknown) => {
      most = Math.max(most, ++inFlight);
      try {
        return await send(command);
      } finally {
        inFlight--;
      }
    },
  });
  const { AttemptLogStore } = await import('../../lambdas/adapters/attempt-log-store');
  const counted = new AttemptLogStore(t.stack.tableName, undefined, client);
  const owners = ['sub-a', 'sub-b', ...Array.from({ length: 98 }, (_, n) => `sub-empty-${n}`)];
  const page = await counted.listByProject(PROJECT, owners, 40);
  expect(page.items).toHaveLength(40);
  expect(most).toBe(AWS_CALLS.callsAtOnce);
});
