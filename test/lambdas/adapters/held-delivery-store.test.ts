import { BatchWriteCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { HeldDeliveryStore } from '../../../lambdas/adapters/held-delivery-store';
import { ParsedDeliveryMessage } from '../../../lambdas/core/delivery-message';

/*
 * A failure between the writes of a park (here the parked count's update) cannot be injected
 * into dynalite, so a scripted client stands in for DynamoDB.
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

test('a park whose count cannot be written takes back every delivery it wrote, then fails', async () => {
  const sent: (BatchWriteCommand | UpdateCommand)[] = [];
  const client = {
    send: (command: BatchWriteCommand | UpdateCommand) => {
      sent.push(command);
      return command instanceof UpdateCommand ? Promise.reject(new Error('throttled')) : Promise.resolve({});
    },
  } as unknown as DynamoDBDocumentClient;
  const store = new HeldDeliveryStore('t', client);
  const messages = Array.from({ length: 30 }, (_, n) => message(n));

  await expect(store.park('p1', 's1', messages, Date.now())).rejects.toThrow('throttled');

  const writes = sent.filter((command): command is BatchWriteCommand => command instanceof BatchWriteCommand);
  const requests = (command: BatchWriteCommand) => command.input.RequestItems!.t!;
  const puts = writes.flatMap(requests).filter((request) => request.PutRequest).map((request) => request.PutRequest!.Item!.sk);
  const deletes = writes.flatMap(requests).filter((request) => request.DeleteRequest).map((request) => request.DeleteRequest!.Key!.sk);
  expect(puts).toHaveLength(30);
  expect(deletes).toEqual(puts);
  expect(writes.every((command) => requests(command).length <= 25)).toBe(true);
});
