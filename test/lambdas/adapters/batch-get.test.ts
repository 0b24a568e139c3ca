import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from '../../../lambdas/adapters/aws-clients';
import { AttemptLogStore } from '../../../lambdas/adapters/attempt-log-store';

/*
 * What dynalite never does, so a scripted client stands in for DynamoDB here: leave keys
 * unprocessed (throttling), and list an index entry whose item is already gone (a log that
 * expired between the index query and the read). Everything else runs against dynalite in
 * test/e2e.
 */

type Sent = BatchGetCommand | QueryCommand;

/** A client whose `send` answers each command with `answer(command)` and records what was sent. */
function scriptedClient(answer: (command: Sent) => unknown): { client: DynamoDBDocumentClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    send: (command: Sent) => {
      sent.push(command);
      return Promise.resolve(answer(command));
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

const keysOf = (command: Sent) => (command as BatchGetCommand).input.RequestItems!.t!.Keys!;

describe('batchGetAll', () => {
  it('reads in requests of 100 keys and asks again for the keys left unprocessed', async () => {
    const keys = Array.from({ length: 150 }, (_, n) => ({ pk: `P${n}`, sk: 'S' }));
    let throttled = false;
    const { client, sent } = scriptedClient((command) => {
      const asked = keysOf(command);
      if (!throttled && asked.length === 100) {
        throttled = true;
        return { Responses: { t: asked.slice(0, 60) }, UnprocessedKeys: { t: { Keys: asked.slice(60) } } };
      }
      return { Responses: { t: asked } };
    });

    const items = await batchGetAll(client, 't', keys, true);

    expect(sent.map((command) => keysOf(command).length)).toEqual([100, 40, 50]);
    expect(sent.every((command) => (command as BatchGetCommand).input.RequestItems!.t!.ConsistentRead === true)).toBe(true);
    expect(items.map((item) => item.pk).sort()).toEqual(keys.map((key) => key.pk).sort());
  });

  it('sends nothing for no keys', async () => {
    const { client, sent } = scriptedClient(() => ({}));
    await expect(batchGetAll(client, 't', [], false)).resolves.toEqual([]);
    expect(sent).toEqual([]);
  });
});

describe('AttemptLogStore.listByProject', () => {
  const entry = (n: number) => ({ pk: `LOGS#p#s${n}#0`, sk: `0000${n}`, gsi2pk: 'HISTORY#p#0', gsi2sk: `0000${n}` });
  const item = (n: number) => ({ pk: `LOGS#p#s${n}#0`, sk: `0000${n}`, expiresAt: 1, logId: `0000${n}`, payload: { n } });

  it('keeps the index order, leaves out a log that expired in between, and points the cursor past the page', async () => {
    const { client } = scriptedClient((command) =>
      command instanceof QueryCommand
        ? command.input.ExpressionAttributeValues?.[':value'] === 'HISTORY#p#0'
          ? { Items: [entry(3), entry(2), entry(1)], LastEvaluatedKey: entry(1) }
          : { Items: [] }
        : // Returned out of order, and without entry 2's item.
          { Responses: { t: [item(1), item(3)] } },
    );

    const page = await new AttemptLogStore('t', 30, client).listByProject('p', 3);

    expect(page.items).toEqual([
      { logId: '00003', payload: { n: 3 } },
      { logId: '00001', payload: { n: 1 } },
    ]);
    expect(JSON.parse(Buffer.from(page.nextCursor!, 'base64url').toString('utf8'))).toEqual({ listing: 'HISTORY#p', before: '00001' });
  });
});
