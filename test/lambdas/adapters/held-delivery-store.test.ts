import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { HeldDeliveryStore } from '../../../lambdas/adapters/held-delivery-store';
import { ParsedDeliveryMessage } from '../../../lambdas/core/delivery-message';

/*
 * A failure between the writes of a park (here the parked count's update) cannot be injected
 * into dynalite, so a scripted client stands in for DynamoDB. The store against dynalite:
 * test/e2e/held-delivery-store.test.ts.
 */
const message = (n: number): ParsedDeliveryMessage => ({
  webhookId: `msg_e${n}_s1`,
  eventId: `e${n}`,
  event: 'request.create',
  projectId: 'p1',
  subscriptionId: 's1',
  publishedAt: '2026-12-04T10:00:00.000Z',
  payload: { n },
  attempt: 1,
  retry: 0,
});

test('a park whose count cannot be written takes back every delivery it wrote (this park of each), then fails', async () => {
  const sent: (PutCommand | UpdateCommand | DeleteCommand)[] = [];
  const client = {
    send: (command: PutCommand | UpdateCommand | DeleteCommand) => {
      sent.push(command);
      return command instanceof UpdateCommand ? Promise.reject(new Error('throttled')) : Promise.resolve({});
    },
  } as unknown as DynamoDBDocumentClient;
  const store = new HeldDeliveryStore('t', client);
  const messages = Array.from({ length: 30 }, (_, n) => message(n));

  await expect(store.park('p1', 's1', messages, Date.now())).rejects.toThrow('throttled');

  const puts = sent.filter((command): command is PutCommand => command instanceof PutCommand).map((command) => command.input.Item!);
  const deletes = sent.filter((command): command is DeleteCommand => command instanceof DeleteCommand).map((command) => command.input);
  expect(puts).toHaveLength(30);
  expect(deletes.map((input) => [input.Key!.sk, input.ExpressionAttributeValues![':park']])).toEqual(puts.map((item) => [item.sk, item.parkId]));
  // The count was never raised (nothing replaced a counted item), so it is not lowered either.
  expect(sent.filter((command) => command instanceof UpdateCommand)).toHaveLength(1);
});
