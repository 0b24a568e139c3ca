import { Agent as HttpAgent, createServer, request as httpRequest, Server } from 'node:http';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvocationEndedError, asFunction } from '../../../local/iam/function-credentials';

/*
 * Lambda stops an invocation at its timeout, and freezes its environment once the handler has
 * answered; the local runtime can only stop waiting for it. An AWS call or HTTP request its
 * handler still makes after either must not leave: refused before it is sent.
 * (A loopback endpoint that records what reaches it.)
 */
let server: Server;
const received: string[] = [];
let client: DynamoDBClient;
let endpointUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    received.push(String(req.headers['x-amz-target']));
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpointUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  client = new DynamoDBClient({ endpoint: endpointUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const read = () => client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' }, sk: { S: 'b' } } }));
const contextWith = (remainingMs: number) => {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
};

test('an AWS call made within the invocation goes out; one made after its timeout is refused, unsent', async () => {
  const outcomes: unknown[] = [];
  const handler = asFunction('FanOutFunction', async (_event: unknown, _context: unknown) => {
    outcomes.push(await read());
    await new Promise((resolve) => setTimeout(resolve, 300));
    outcomes.push(await read().catch((error: unknown) => error));
  });
  await handler({}, contextWith(200));
  expect(outcomes[0]).toMatchObject({ $metadata: { httpStatusCode: 200 } });
  expect(outcomes[1]).toBeInstanceOf(InvocationEndedError);
  expect(received).toEqual(['DynamoDB_20120810.GetItem']);
});

test('nor does a plain HTTP request (a webhook POST) made after the timeout', async () => {
  received.length = 0;
  const post = () =>
    new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${endpointUrl}/hook`, { method: 'POST', agent: new HttpAgent({ keepAlive: true }) }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end('{}');
    });
  const outcomes: unknown[] = [];
  const handler = asFunction('DeliveryFunction', async (_event: unknown, _context: unknown) => {
    outcomes.push(await post());
    await new Promise((resolve) => setTimeout(resolve, 300));
    outcomes.push(await post().catch((error: unknown) => error));
  });
  await handler({}, contextWith(200));
  expect(outcomes[0]).toBe(200);
  expect(outcomes[1]).toBeInstanceOf(InvocationEndedError);
  expect(received).toHaveLength(1);
});

test('an AWS call or POST left running after the handler answered is refused, unsent: Lambda freezes the environment then', async () => {
  received.length = 0;
  let late: Promise<unknown> | undefined;
  const handler = asFunction('FanOutFunction', async (_event: unknown, _context: unknown) => {
    await read();
    // Not awaited: it starts after the answer, as a floating promise's next step would.
    late = new Promise((resolve) => setTimeout(resolve, 50)).then(() => read()).catch((error: unknown) => error);
    return 'answered';
  });
  expect(await handler({}, contextWith(60_000))).toBe('answered');
  const outcome = await late;
  expect(outcome).toBeInstanceOf(InvocationEndedError);
  expect(String((outcome as Error).message)).toMatch(/had already answered/);
  expect(received).toEqual(['DynamoDB_20120810.GetItem']);
});

test('outside an invocation (an event source, a test, a tool) nothing is refused', async () => {
  received.length = 0;
  await read();
  expect(received).toHaveLength(1);
});
