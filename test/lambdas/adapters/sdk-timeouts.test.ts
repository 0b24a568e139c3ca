import { Server, Socket, createServer } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { AWS_CALLS } from '../../../lambdas/core/settings';

/*
 * An AWS endpoint that takes the connection and never answers (a stalled socket): each SDK
 * client the functions use must give up on the attempt after AWS_CALLS.requestTimeoutMs and let
 * the SDK retry, not hold the call until the function times out (the SDK's own default waits
 * 5–15 minutes for an idle socket). Loopback only.
 */
let server: Server;
const sockets = new Set<Socket>();
let endpoint: string;

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** How long `call` took to fail, and with what. */
async function failure(call: () => Promise<unknown>): Promise<{ ms: number; name: string }> {
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    return { ms: Date.now() - started, name: (error as Error).name };
  }
  throw new Error('expected the call to fail');
}

it('every client the functions use times out a stalled attempt, and the SDK retries it', async () => {
  // Imported after the endpoint is set: the clients read AWS_ENDPOINT_URL when they are made.
  const { dynamoDocumentClient, sqsClient } = await import('../../../lambdas/adapters/aws-clients');
  const { publishTiledeskEvents } = await import('../../../lambdas/adapters/event-publisher');
  const { secretsClientFor } = await import('../../../lambdas/adapters/secret-setting');
  const outcomes = await Promise.all([
    failure(() => dynamoDocumentClient.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }))),
    failure(() => sqsClient.send(new SendMessageCommand({ QueueUrl: `${endpoint}/000000000000/q`, MessageBody: 'x' }))),
    failure(() => publishTiledeskEvents('bus', [{ event: 'lead.create', payload: { id_project: 'p' } }], { put: async () => { throw new Error('unused'); } } as never)),
    failure(() => secretsClientFor('arn:aws:secretsmanager:us-east-1:123456789012:secret:s').send(new GetSecretValueCommand({ SecretId: 's' }))),
  ]);
  for (const outcome of outcomes) {
    expect(outcome.name).toBe('TimeoutError');
    // Three attempts (the SDK's standard retry), each cut at the request timeout, with its back-off.
    expect(outcome.ms).toBeGreaterThanOrEqual(3 * AWS_CALLS.requestTimeoutMs - 100);
    expect(outcome.ms).toBeLessThan(3 * AWS_CALLS.requestTimeoutMs + 10_000);
  }
}, 60_000);
