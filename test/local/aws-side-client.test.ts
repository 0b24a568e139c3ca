import { ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
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
async function pollsEndedBeforeSend(sqs: SQSClient): Promise<number> {
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

it('(the SDK default client, for contrast: its send waits for a poll to give back a socket)', async () => {
  const sqs = new SQSClient({ ...options, endpoint: endpoint.url });
  try {
    expect(await pollsEndedBeforeSend(sqs)).toBeGreaterThan(0);
  } finally {
    sqs.destroy();
  }
});
