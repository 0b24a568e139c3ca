import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from '../../../lambdas/adapters/aws-clients';

/*
 * What dynalite never does, so a scripted client stands in for DynamoDB here: leave keys
 * unprocessed (throttling). Everything else runs against dynalite in test/e2e.
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

  it('gives up with an error when DynamoDB keeps leaving keys unprocessed, rather than asking until the function times out', async () => {
    const { client, sent } = scriptedClient((command) => ({ Responses: { t: [] }, UnprocessedKeys: { t: { Keys: keysOf(command) } } }));
    await expect(batchGetAll(client, 't', [{ pk: 'P', sk: 'S' }], true)).rejects.toThrow('1 key(s) left unprocessed by DynamoDB');
    expect(sent).toHaveLength(10);
  }, 15_000);

  it('sends nothing for no keys', async () => {
    const { client, sent } = scriptedClient(() => ({}));
    await expect(batchGetAll(client, 't', [], false)).resolves.toEqual([]);
    expect(sent).toEqual([]);
  });
});
