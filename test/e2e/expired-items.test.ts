// DynamoDB TTL deletes expired items "typically within two days of expiration", and until then
// "items that have expired and not been deleted will still show up in reads, queries, and
// scans" (UpdateTimeToLive). dynalite never deletes them, which is AWS's state in between: the
// items below are past their TTL and still there, and the service reads them as gone.
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
let client: import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient;

beforeAll(async () => {
  t = await startTestStack();
  hook = await startReceiver();
  client = (await import('../../lambdas/adapters/aws-clients')).dynamoDocumentClient;
});
afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

const past = () => Math.floor(Date.now() / 1000) - 60;

test('attempt logs past their retention are not listed, in the logs or the history, and cannot be retried', async () => {
  const projectId = 'p-expired-logs';
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  // One after the other: attempts of one invocation share a log item (a group), which would expire together.
  let logged: Awaited<ReturnType<typeof logsOf>> = [];
  for (const n of [1, 2]) {
    await publish(t, [{ type: 'request.create', detail: { id_project: projectId, n } }]);
    logged = await eventually(async () => {
      const attempts = await logsOf(t, projectId, _id);
      expect(attempts).toHaveLength(n);
      return attempts;
    });
  }
  // The older attempt's item expires (every shard of the subscription's logs is looked at).
  const older = logged.reduce((a, b) => (a.attemptedAt < b.attemptedAt ? a : b)) as unknown as { logId: string };
  let expired = 0;
  for (let shard = 0; shard < 8; shard++) {
    const { Items = [] } = await client.send(new QueryCommand({ TableName: t.stack.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `LOGS#${projectId}#${_id}#${shard}` } }));
    for (const item of Items.filter((candidate) => String(candidate.logId ?? candidate.sk).startsWith(older.logId.split('_')[0]!))) {
      await client.send(new UpdateCommand({ TableName: t.stack.tableName, Key: { pk: item.pk, sk: item.sk }, UpdateExpression: 'SET expiresAt = :past', ExpressionAttributeValues: { ':past': past() } }));
      expired += 1;
    }
  }
  expect(expired).toBe(1);
  const token = t.tokenFor({ [projectId]: 'owner' });
  const logs = await logsOf(t, projectId, _id);
  expect(logs.map((attempt) => (attempt as unknown as { logId: string }).logId)).not.toContain(older.logId);
  expect(logs).toHaveLength(1);
  const history = await t.api('GET', `/${projectId}/subscriptions/history`, { token });
  expect((history.body.items as { logId: string }[]).map((attempt) => attempt.logId)).not.toContain(older.logId);
  const retry = await t.api('POST', `/${projectId}/subscriptions/${_id}/logs/${older.logId}/retry`, { token });
  expect(retry.status).toBe(404);
});

test('a health item past its TTL (30 quiet days) reads as healthy, not as its old open circuit', async () => {
  const projectId = 'p-expired-health';
  const { _id } = await subscribe(t, projectId, 'request.create', hook.url);
  await client.send(
    new PutCommand({
      TableName: t.stack.tableName,
      Item: {
        pk: `PROJECT#${projectId}`,
        sk: `HEALTH#${_id}`,
        version: 7,
        circuit: 'open',
        openUntil: Date.now() + 3_600_000,
        cooldownSeconds: 1800,
        consecutiveFailures: 40,
        lane: 'slow',
        quickAnswers: 0,
        expiresAt: past(),
      },
    }),
  );
  const token = t.tokenFor({ [projectId]: 'owner' });
  const shown = await t.api('GET', `/${projectId}/subscriptions/${_id}`, { token });
  expect(shown.body.health).toMatchObject({ circuit: 'closed', lane: 'fast', consecutiveFailures: 0 });
  const before = hook.received.length;
  await publish(t, [{ type: 'request.create', detail: { id_project: projectId, n: 1 } }]);
  // Delivered at once, not held for the old circuit's hour.
  await hook.waitFor(before + 1, 15_000);
});

test("a rate-limited subscription's expired health item still has its clock moved: the next delivery goes", async () => {
  const projectId = 'p-expired-rate';
  const token = t.tokenFor({ [projectId]: 'owner' });
  const created = await t.api('POST', `/${projectId}/subscriptions`, { token, body: { event: 'request.create', target: hook.url, rateLimit: 5 } });
  expect(created.status).toBe(200);
  const id = created.body._id as string;
  // Its clock's last slot a month ago, the item expired but not deleted.
  await client.send(
    new PutCommand({
      TableName: t.stack.tableName,
      Item: { pk: `PROJECT#${projectId}`, sk: `HEALTH#${id}`, version: 3, circuit: 'closed', lane: 'fast', consecutiveFailures: 0, quickAnswers: 0, rateTat: Date.now() - 30 * 86_400_000, expiresAt: past() },
    }),
  );
  const before = hook.received.length;
  await publish(t, [{ type: 'request.create', detail: { id_project: projectId, n: 1 } }]);
  await hook.waitFor(before + 1, 15_000);
  // And the item in use lives on: the reservation gave it a new TTL.
  const { Items = [] } = await client.send(new QueryCommand({ TableName: t.stack.tableName, KeyConditionExpression: 'pk = :pk AND sk = :sk', ExpressionAttributeValues: { ':pk': `PROJECT#${projectId}`, ':sk': `HEALTH#${id}` } }));
  expect(Number(Items[0]?.expiresAt)).toBeGreaterThan(Date.now() / 1000);
});
