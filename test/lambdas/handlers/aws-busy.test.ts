import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';

/*
 * What the API answers when an AWS service it calls is busy: real SDK clients (the functions'
 * own, from `aws-clients`) against a loopback endpoint that answers as DynamoDB and SQS do when
 * they throttle or fail, so the errors are the SDK's, parsed from the wire. Loopback only.
 */
let answer: (request: IncomingMessage, response: ServerResponse) => void;
let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => answer(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', POWERTOOLS_LOG_LEVEL: 'SILENT' });
});
afterAll(async () => {
  server.closeAllConnections(); // the stalled endpoint's requests are still open
  await new Promise((resolve) => server.close(resolve));
});

/** The error `call` failed with. */
async function errorOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

/** Answers every request with this AWS JSON-protocol error. */
function awsError(status: number, type: string, message: string): void {
  answer = (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type, 'x-amzn-requestid': 'r' });
    response.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }));
  };
}

async function clients() {
  // Imported after the endpoint is set: the clients read AWS_ENDPOINT_URL when they are made.
  const { dynamoDocumentClient, sqsClient } = await import('../../../lambdas/adapters/aws-clients');
  const { errorResponse, BUSY_RETRY_AFTER_SECONDS } = await import('../../../lambdas/handlers/http-response');
  const get = () => dynamoDocumentClient.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
  return { get, sqsClient, errorResponse, BUSY_RETRY_AFTER_SECONDS };
}

describe('errorResponse of AWS errors, after the SDK retried', () => {
  it.each([
    [400, 'ThrottlingException', 'Throughput exceeds the current capacity of your table or index.'],
    [400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.'],
    [500, 'InternalServerError', 'Internal server error'],
    [503, 'ServiceUnavailable', 'Service unavailable'],
  ])('DynamoDB answering %i %s: 503 with Retry-After, never 500', async (status, type, message) => {
    const { get, errorResponse, BUSY_RETRY_AFTER_SECONDS } = await clients();
    awsError(status, type, message);
    const error = await errorOf(get);
    expect((error as Error).name).toBe(type);
    const result = errorResponse(error);
    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'retry-after': String(BUSY_RETRY_AFTER_SECONDS), 'cache-control': 'no-store' });
    expect(JSON.parse(result.body as string)).toEqual({ success: false, msg: 'the service is busy; retry shortly' });
  }, 30_000);

  it('SQS throttling a send: 503', async () => {
    const { sqsClient, errorResponse } = await clients();
    answer = (_request, response) => {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'RequestThrottled;Sender' });
      response.end(JSON.stringify({ __type: 'com.amazonaws.sqs#RequestThrottled', message: 'Rate exceeded' }));
    };
    const error = await errorOf(() => sqsClient.send(new SendMessageCommand({ QueueUrl: `${endpoint}/000000000000/q`, MessageBody: 'x' })));
    expect(errorResponse(error).statusCode).toBe(503);
  }, 30_000);

  it('SQS throttling the send of the adapter the API uses: an AwsBusyError, 503', async () => {
    const { errorResponse } = await clients();
    const { sendMessages } = await import('../../../lambdas/adapters/sqs-queue');
    answer = (_request, response) => {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'RequestThrottled;Sender' });
      response.end(JSON.stringify({ __type: 'com.amazonaws.sqs#RequestThrottled', message: 'Rate exceeded' }));
    };
    const error = await errorOf(() => sendMessages(`${endpoint}/000000000000/q`, ['a', 'b']));
    expect((error as Error).name).toBe('AwsBusyError');
    expect(errorResponse(error).statusCode).toBe(503);
  }, 30_000);

  it("SQS failing a batch's entries on its side (SenderFault false) is busy; refusing what was sent is not", async () => {
    const { errorResponse } = await clients();
    const { sendMessages } = await import('../../../lambdas/adapters/sqs-queue');
    const failing = (senderFault: boolean) => (_request: IncomingMessage, response: ServerResponse) => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ Successful: [], Failed: [{ Id: '0', SenderFault: senderFault, Code: senderFault ? 'InvalidMessageContents' : 'InternalError', Message: 'no' }] }));
    };
    answer = failing(false);
    expect(errorResponse(await errorOf(() => sendMessages(`${endpoint}/000000000000/q`, ['a']))).statusCode).toBe(503);
    answer = failing(true);
    expect(errorResponse(await errorOf(() => sendMessages(`${endpoint}/000000000000/q`, ['a']))).statusCode).toBe(500);
  });

  it('DynamoDB leaving batch keys unprocessed round after round (throttled): 503', async () => {
    const { errorResponse } = await clients();
    const { batchGetAll, dynamoDocumentClient } = await import('../../../lambdas/adapters/aws-clients');
    answer = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ Responses: { t: [] }, UnprocessedKeys: { t: { Keys: [{ pk: { S: 'a' }, sk: { S: 'b' } }] } } }));
    };
    const error = await errorOf(() => batchGetAll(dynamoDocumentClient, 't', [{ pk: 'a', sk: 'b' }], false));
    expect(error).toEqual(expect.objectContaining({ name: 'AwsBusyError', message: '1 key(s) left unprocessed by DynamoDB' }));
    expect(errorResponse(error).statusCode).toBe(503);
  }, 30_000);

  it('every 503 carries Retry-After, a sign-in service unavailable too', async () => {
    const { errorResponse, BUSY_RETRY_AFTER_SECONDS } = await clients();
    const { ServiceUnavailableError } = await import('../../../lambdas/core/errors');
    const result = errorResponse(new ServiceUnavailableError('Tiledesk did not answer'));
    expect(result).toMatchObject({ statusCode: 503, headers: { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) } });
    expect(JSON.parse(result.body as string)).toEqual({ success: false, msg: 'Tiledesk did not answer' });
  });

  it('an AWS endpoint that does not answer in time: 503', async () => {
    const { errorResponse } = await clients();
    const { DynamoDBClient, GetItemCommand } = await import('@aws-sdk/client-dynamodb');
    answer = () => undefined; // holds the request, as a stalled endpoint does
    const client = new DynamoDBClient({ endpoint, maxAttempts: 1, requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true } });
    const error = await errorOf(() => client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } })));
    expect((error as Error).name).toBe('TimeoutError');
    expect(errorResponse(error).statusCode).toBe(503);
    client.destroy();
  });

  it('an AWS endpoint that refuses the connection: 503', async () => {
    const { errorResponse } = await clients();
    // The error as the SDK raises it in Node (captured there): Node's own error, its code kept,
    // with the SDK's $metadata. Jest's sandbox would wrap it and drop the code, so it is built here.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED', $metadata: { attempts: 3, totalRetryDelay: 150 } });
    expect(errorResponse(refused).statusCode).toBe(503);
    expect(errorResponse(Object.assign(new Error('getaddrinfo EAI_AGAIN dynamodb.us-east-1.amazonaws.com'), { code: 'EAI_AGAIN', $metadata: { attempts: 3 } })).statusCode).toBe(503);
    // 501: a request the service will never take, not a busy one.
    expect(errorResponse(Object.assign(new Error('Not Implemented'), { name: 'NotImplemented', $metadata: { httpStatusCode: 501 } })).statusCode).toBe(500);
    // The same error without the SDK's $metadata did not come from an AWS call: a fault of this code.
    expect(errorResponse(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' })).statusCode).toBe(500);
  });

  it('a request DynamoDB refuses for what it is (a validation error): still 500, not "busy"', async () => {
    const { get, errorResponse } = await clients();
    awsError(400, 'ValidationException', 'One or more parameter values were invalid');
    const result = errorResponse(await errorOf(get));
    expect(result.statusCode).toBe(500);
    expect(result.headers).not.toHaveProperty('retry-after');
  });

  it("this code's own fault: 500 without Retry-After", async () => {
    const { errorResponse } = await clients();
    const result = errorResponse(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body as string)).toEqual({ success: false, msg: 'Internal error' });
  });
});

describe('the authorizer when the signing secret cannot be read (Secrets Manager throttling)', () => {
  it('passes the request on as unavailable: the API answers 503 with Retry-After, never a grant nor a 500', async () => {
    process.env.JWT_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt';
    answer = (_request, response) => {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' });
      response.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
    };
    const { authorize } = await import('../../../lambdas/handlers/authorizer');
    const { errorResponse, principalOf } = await import('../../../lambdas/handlers/http-response');
    const hs256 = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"u"}').toString('base64url')}.c2ln`;
    const decision = await authorize({ headers: { authorization: `Bearer ${hs256}` }, pathParameters: { projectId: 'p1' } } as never);
    expect(decision).toMatchObject({ isAuthorized: true, context: { authenticated: false, unavailable: true } });
    const request = { requestContext: { authorizer: { lambda: decision.context } } } as never;
    const result = errorResponse(await errorOf(async () => principalOf(request)));
    expect(result).toMatchObject({ statusCode: 503, headers: { 'retry-after': '2' } });
  }, 30_000);
});
