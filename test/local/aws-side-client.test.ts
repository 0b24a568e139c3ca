import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { startAwsEndpoint } from '../../local/aws-endpoint';
import { runAsFunction } from '../../local/iam/function-credentials';
import { awsSideSqs } from '../../local/runtime/aws-side-sqs';
import { awsSideSqsClient } from '../../local/runtime/event-source-mappings';
import { SqsEndpoint, startSqsEndpoint } from '../support/sqs-endpoint';

/**
 * Lambda's pollers and EventBridge's sender share one SQS client in the local stack. On AWS they
 * are services of their own, so no number of waiting long polls holds up a send: the shared
 * client must not either. (With the SDK's default of 50 sockets, the slow lane's 50 idle pollers
 * took them all.)
 */

let endpoint: SqsEndpoint;
let idle: { url: string };
let busy: { url: string };

beforeAll(async () => {
  endpoint = await startSqsEndpoint();
  idle = await endpoint.createQueue('aws-side-idle');
  busy = await endpoint.createQueue('aws-side-busy');
});

afterAll(async () => {
  await endpoint?.stop();
});

const LONG_POLLS = 60;
/** Long enough that a send on a slow machine is answered well before any poll ends. */
const WAIT_SECONDS = 5;
const options = { endpoint: '', region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

/**
 * Starts LONG_POLLS long polls of an empty queue, then a send; answers how many polls had ended
 * when the send was answered (each waits WAIT_SECONDS on the empty queue).
 */
async function pollsEndedBeforeSend(sqs: Pick<SQSClient, 'send'>): Promise<number> {
  let ended = 0;
  const polls = Array.from({ length: LONG_POLLS }, () =>
    sqs.send(new ReceiveMessageCommand({ QueueUrl: idle.url, WaitTimeSeconds: WAIT_SECONDS })).finally(() => ended++),
  );
  // Every poll is on its way before the send.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await sqs.send(new SendMessageCommand({ QueueUrl: busy.url, MessageBody: 'sent while the polls wait' }));
  const endedBeforeSend = ended;
  await Promise.all(polls);
  return endedBeforeSend;
}

it(`answers a send while ${LONG_POLLS} long polls wait on the same client`, async () => {
  const sqs = awsSideSqsClient({ ...options, endpoint: endpoint.url });
  try {
    expect(await pollsEndedBeforeSend(sqs)).toBe(0);
  } finally {
    sqs.destroy();
  }
});

it(`the pollers' own client answers a send while ${LONG_POLLS} long polls wait on it`, async () => {
  expect(await pollsEndedBeforeSend(awsSideSqs(endpoint.url, 'us-east-1'))).toBe(0);
});

it.each(['over HTTP', 'in-process'])("the pollers' client speaks SQS's JSON protocol (%s): messages and their attributes come back as the SDK reads them", async (way) => {
  const sqs = awsSideSqs(way === 'over HTTP' ? endpoint.url : endpoint.direct, 'us-east-1');
  const queue = await endpoint.createQueue(`aws-side-json-${way === 'over HTTP' ? 'http' : 'direct'}`);
  const attribute = { DataType: 'String', StringValue: 'kept' };
  await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: '{"a":"é"}', MessageAttributes: { NAME: attribute } }));
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queue.url, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
  );
  expect(Messages).toHaveLength(1);
  expect(Messages[0]).toMatchObject({ Body: '{"a":"é"}', MessageAttributes: { NAME: attribute }, Attributes: { ApproximateReceiveCount: '1' } });
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
  expect(Attributes).toEqual({ ApproximateNumberOfMessagesNotVisible: '1' });
});

it("the pollers' client calls as the running function, and fails with the SDK's error name and status", async () => {
  const seen: { target?: string; authorization?: string; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ target: req.headers['x-amz-target'] as string, authorization: req.headers.authorization, body: Buffer.concat(chunks).toString() });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end('{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const sqs = awsSideSqs(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'eu-west-1');
    const receive = new ReceiveMessageCommand({ QueueUrl: 'http://x/000000000000/gone', WaitTimeSeconds: 0 });
    const failure = await runAsFunction('DeliveryFunction1', () => sqs.send(receive)).catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: 'QueueDoesNotExist', message: 'The specified queue does not exist.', $metadata: { httpStatusCode: 400 }, $fault: 'client' });
    await sqs.send(receive).catch(() => undefined);
    expect(seen.map(({ target }) => target)).toEqual(['AmazonSQS.ReceiveMessage', 'AmazonSQS.ReceiveMessage']);
    expect(seen[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=DeliveryFunction1\/\d{8}\/eu-west-1\/sqs\/aws4_request,/);
    expect(seen[1]!.authorization).toContain(`Credential=${process.env.AWS_ACCESS_KEY_ID ?? 'local'}/`);
    expect(JSON.parse(seen[0]!.body)).toEqual({ QueueUrl: 'http://x/000000000000/gone', WaitTimeSeconds: 0 });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

it("the pollers' client tries a 5xx again, as the SDK's standard retry mode does, and answers with the success", async () => {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    requests += 1;
    if (requests === 1) res.writeHead(500).end('{"__type":"InternalFailure","message":"try again"}');
    else res.writeHead(200).end('{"Messages":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const sqs = awsSideSqs(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'us-east-1');
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl: 'http://x/000000000000/q' }))).resolves.toMatchObject({ Messages: [] });
    expect(requests).toBe(2);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

it("in-process, an exception of the endpoint is a 500 InternalFailure, as over HTTP, and tried again as the SDK would", async () => {
  let calls = 0;
  const local = await startAwsEndpoint({
    port: 0,
    dynamoDbUrl: 'http://127.0.0.1:9',
    sqsUrl: 'http://127.0.0.1:9',
    events: async () => ({ status: 400, body: {} }),
    sqsExtensions: (action) =>
      action === 'ListMessageMoveTasks'
        ? async () => {
            calls += 1;
            throw new Error('move tasks broke');
          }
        : undefined,
  });
  try {
    const failure = await awsSideSqs(local.sqs, 'us-east-1')
      .send(new ListMessageMoveTasksCommand({ SourceArn: 'arn:aws:sqs:us-east-1:000000000000:q' }))
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: 'InternalFailure', $metadata: { httpStatusCode: 500 }, $fault: 'server' });
    expect(calls).toBe(3);
  } finally {
    await local.stop();
  }
});

it('(the SDK default client, for contrast: its send waits for a poll to give back a socket)', async () => {
  const sqs = new SQSClient({ ...options, endpoint: endpoint.url });
  try {
    expect(await pollsEndedBeforeSend(sqs)).toBeGreaterThan(0);
  } finally {
    sqs.destroy();
  }
});
