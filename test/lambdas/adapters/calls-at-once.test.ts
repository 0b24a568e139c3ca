import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { CallSlots, limitCallsAtOnce } from '../../../lambdas/adapters/calls-at-once';

/*
 * The SDK's Node handler starts a call's timers when the call reaches it, whether or not one of
 * the client's 50 sockets is free: calls started together beyond them wait for a socket with
 * their timers running and time out unsent. A DynamoDB endpoint on loopback that answers each
 * request after ANSWER_MS shows it, and shows that a client with limited calls at once does not.
 */
const ANSWER_MS = 300;
let server: Server;
let endpoint: string;
let open = 0;
let mostOpen = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    mostOpen = Math.max(mostOpen, ++open);
    request.resume();
    setTimeout(() => {
      open--;
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
    }, ANSWER_MS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(async () => {
  // Requests the last test gave up on are still open here until their answer is due.
  while (open > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  mostOpen = 0;
});

/** A client whose attempts give up after 1 s and are not retried: 4 rounds of 300 ms do not fit. */
const client = () =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 1000, throwOnRequestTimeout: true },
  });

/** 200 GetItem calls started together: how many failed, and with what. */
async function twoHundredAtOnce(send: (n: number) => Promise<unknown>): Promise<string[]> {
  const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, n) => send(n)));
  return outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as Error).name] : []));
}

const get = (n: number) => new GetItemCommand({ TableName: 't', Key: { pk: { S: `k${n}` } } });

it('without a limit, calls waiting for one of the 50 sockets time out unsent', async () => {
  const plain = client();
  const failures = await twoHundredAtOnce((n) => plain.send(get(n)));
  expect(failures.length).toBeGreaterThan(0);
  expect(new Set(failures)).toEqual(new Set(['TimeoutError']));
  expect(mostOpen).toBeLessThanOrEqual(50);
  plain.destroy();
}, 30_000);

it('with calls at once limited, every call waits its turn and none times out, through a document client too', async () => {
  const limited = limitCallsAtOnce(client(), 40);
  expect(await twoHundredAtOnce((n) => limited.send(get(n)))).toEqual([]);
  expect(mostOpen).toBe(40);
  mostOpen = 0;
  const documents = DynamoDBDocumentClient.from(limited);
  expect(await twoHundredAtOnce((n) => documents.send(new GetCommand({ TableName: 't', Key: { pk: `k${n}` } })))).toEqual([]);
  expect(mostOpen).toBe(40);
  limited.destroy();
}, 30_000);

it('a failed call frees its slot for the next', async () => {
  const slots = new CallSlots(1);
  await expect(slots.run(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
  await expect(slots.run(async () => 'next')).resolves.toBe('next');
});

it("the functions' clients are limited to AWS_CALLS.callsAtOnce", async () => {
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  // Imported after the endpoint is set: the clients read AWS_ENDPOINT_URL when they are made.
  const { dynamoDocumentClient } = await import('../../../lambdas/adapters/aws-clients');
  const { AWS_CALLS } = await import('../../../lambdas/core/settings');
  expect(await twoHundredAtOnce((n) => dynamoDocumentClient.send(new GetCommand({ TableName: 't', Key: { pk: `k${n}` } })))).toEqual([]);
  expect(mostOpen).toBe(AWS_CALLS.callsAtOnce);
}, 30_000);
