import { IncomingMessage, Server, ServerResponse, createServer, request } from 'node:http';
import { AddressInfo } from 'node:net';
import type { BillingMeter } from './billing-meter';
import { TableKeys, checkWriteRequest, isCheckedAction, tablesWritten } from './dynamodb-limits';
import { accessKeyIdOf } from './iam/function-credentials';
import { LocalPermissions } from './iam/local-permissions';
import type { ServiceResponse } from './iam/access-denied';
import { LocalService } from './iam/required-permissions';

/** A service behind the local AWS endpoint that answers requests itself. */
export type LocalActionHandler = (action: string, body: Buffer) => Promise<{ status: number; body: unknown }>;

/** Props of {@link startAwsEndpoint}. */
export interface AwsEndpointOptions {
  port: number;
  /** Where DynamoDB requests are forwarded (dynalite). */
  dynamoDbUrl: string;
  /** Where SQS requests are forwarded (fauxqs). */
  sqsUrl: string;
  /** Where S3 requests are forwarded (fauxqs's S3, path-style). @default S3 is refused */
  s3Url?: string;
  /** Answers `AWSEvents.*` requests (the local EventBridge). */
  events: LocalActionHandler;
  /** Answers the SQS actions fauxqs lacks (message move tasks); `undefined` lets fauxqs answer. */
  sqsExtensions?: (action: string) => LocalActionHandler | undefined;
  /** Counts each request by `service.action` when set (the benchmark reads it); see {@link AwsRequestDetail}. */
  onRequest?: (service: string, action: string, detail: AwsRequestDetail) => void;
  /** Authorizes the functions' calls (access key id = function logical id). @default every call allowed */
  permissions?: LocalPermissions;
  /** Counts what AWS would bill for each request when set (the benchmark's cost model). */
  meter?: BillingMeter;
}

/** What the endpoint tells of a request besides its service and action. */
export interface AwsRequestDetail {
  /** The calling function's logical id (its access key id), when a function called. */
  caller?: string;
  /** An SQS `ReceiveMessage`, told once answered: true when it returned no message (an idle poll). */
  empty?: boolean;
}

export interface AwsEndpoint {
  url: string;
  /**
   * SQS's JSON protocol answered in this process, exactly as a request to `url` would be
   * (counted, authorized by `caller`, metered, forwarded to fauxqs): for what AWS runs itself
   * (Lambda's pollers, EventBridge's sender), whose CPU on AWS is not the functions'.
   */
  sqs: DirectSqs;
  stop(): Promise<void>;
}

/**
 * An SQS action with its JSON body and the headers an SDK would send (`authorization` names the
 * caller by its access key id: a function's logical id).
 */
export type DirectSqs = (call: { action: string; body: string; headers: Record<string, string>; signal?: AbortSignal }) => Promise<{ status: number; body: string }>;

/**
 * One local AWS endpoint for every SDK client: it routes each request by its protocol
 * header (`X-Amz-Target: DynamoDB_20120810.*`, `AmazonSQS.*`, `AWSEvents.*`) to dynalite,
 * fauxqs or the local EventBridge, and S3's REST requests (signed for service `s3`) to fauxqs.
 */
export async function startAwsEndpoint(options: AwsEndpointOptions): Promise<AwsEndpoint> {
  const tableKeys = new Map<string, TableKeys>();
  const server = createServer((req, res) => {
    route(req, res, options, tableKeys).catch((error: unknown) => {
      sendJson(res, 500, { __type: 'InternalFailure', message: String(error) });
    });
  });
  server.keepAliveTimeout = 60_000;
  await listen(server, options.port);
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}`,
    sqs: async ({ action, body, headers, signal }) => {
      const caller = accessKeyIdOf(headers.authorization);
      try {
        const answer = await sqsCall(options, { action, body: Buffer.from(body), caller, host, headers: { ...headers, host }, signal });
        return { status: answer.status, body: answer.body };
      } catch (error) {
        if (signal?.aborted) throw error;
        // As the HTTP route answers an exception (and the SDK's retry takes a 500 as transient).
        return { status: 500, body: JSON.stringify({ __type: 'InternalFailure', message: String(error) }) };
      }
    },
    stop: () => closeServer(server),
  };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: AwsEndpointOptions,
  tableKeys: Map<string, TableKeys>,
): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '');
  const meter = options.meter?.active ? options.meter : undefined;
  const caller = accessKeyIdOf(req.headers.authorization);
  const [prefix, action = ''] = target.split('.');
  if (req.method === 'GET' && (req.url === '/health' || req.url === '/')) {
    sendJson(res, 200, { status: 'ok', services: ['dynamodb', 'sqs', 'events', ...(options.s3Url ? ['s3'] : [])] });
    return;
  }
  if (options.s3Url && !target && isSignedForS3(req)) {
    options.onRequest?.('s3', req.method ?? 'GET', { caller });
    if ((await authorizeFunction(req, res, options, 's3', '')).refused) return;
    meter?.s3(req.method ?? 'GET');
    const listDenied = await listBucketRefusal(req, options);
    // A missing key (NoSuchKey; a HEAD has no body to tell), not a missing bucket.
    await forward(req, res, options.s3Url, undefined, listDenied && ((status, answer) => (status === 404 && !answer.includes('<Code>NoSuchBucket</Code>') ? listDenied : undefined)));
    return;
  }
  if (prefix === 'DynamoDB_20120810') {
    options.onRequest?.('dynamodb', action, { caller });
    const authorization = await authorizeFunction(req, res, options, 'dynamodb', action);
    if (authorization.refused) return;
    if (['CreateTable', 'DeleteTable', 'UpdateTable'].includes(action)) tableKeys.clear();
    if (!isCheckedAction(action) && !meter) {
      await forward(req, res, options.dynamoDbUrl, authorization.body);
      return;
    }
    const body = authorization.body ?? (await readBody(req));
    const refusal = isCheckedAction(action) ? await refuseOverLimits(action, body, req, options.dynamoDbUrl, tableKeys) : undefined;
    if (refusal) {
      sendJson(res, 400, { __type: 'com.amazon.coral.validate#ValidationException', message: refusal }, 'application/x-amz-json-1.0');
      return;
    }
    if (meter) {
      const call = (name: string, payload: Record<string, unknown>) => callDynamoDb(name, payload, req, options.dynamoDbUrl);
      await meter.dynamoDb(action, body, call, () => forward(req, res, options.dynamoDbUrl, body));
      return;
    }
    await forward(req, res, options.dynamoDbUrl, body);
    return;
  }
  if (prefix === 'AmazonSQS') {
    const answer = await sqsCall(options, {
      action,
      body: await readBody(req),
      caller,
      host: String(req.headers.host ?? '127.0.0.1'),
      headers: req.headers,
      method: req.method,
      path: req.url,
    });
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
    res.end(answer.body);
    return;
  }
  if (prefix === 'AWSEvents') {
    options.onRequest?.('events', action, { caller });
    const authorization = await authorizeFunction(req, res, options, 'events', action);
    if (authorization.refused) return;
    const events: LocalActionHandler = (name, body) => {
      meter?.events(name, body);
      return options.events(name, body);
    };
    await answerLocally(req, res, action, events, 'application/x-amz-json-1.1', authorization.body);
    return;
  }
  sendJson(res, 400, {
    __type: 'UnknownOperationException',
    message: `The local AWS endpoint serves DynamoDB, SQS and EventBridge (JSON protocol) and S3; got X-Amz-Target "${target}"`,
  });
}

/**
 * Authorizes a function's request (see `iam/local-permissions.ts`); when refused, the service's
 * access-denied error has been answered. `body` is the request body when it had to be read
 * (JSON protocols name the resource there), to be forwarded in place of the consumed stream.
 */
async function authorizeFunction(
  req: IncomingMessage,
  res: ServerResponse,
  options: AwsEndpointOptions,
  service: LocalService,
  operation: string,
): Promise<{ refused: boolean; body?: Buffer }> {
  const caller = accessKeyIdOf(req.headers.authorization);
  if (!options.permissions?.isFunctionKey(caller)) return { refused: false };
  const body = service === 's3' ? undefined : await readBody(req);
  const refusal = await authorizeCall(options, caller, service, operation, body, req.method, req.url);
  if (refusal) {
    res.writeHead(refusal.status, { ...refusal.headers, 'content-length': String(Buffer.byteLength(refusal.body)) });
    res.end(refusal.body);
    return { refused: true };
  }
  return { refused: false, body };
}

/** The service's access-denied answer when the function `caller` may not make this call (see `authorizeFunction`). */
async function authorizeCall(
  options: AwsEndpointOptions,
  caller: string | undefined,
  service: LocalService,
  operation: string,
  body: Buffer | undefined,
  method = 'POST',
  path = '/',
): Promise<ServiceResponse | undefined> {
  if (!options.permissions?.isFunctionKey(caller)) return undefined;
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = body ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : undefined;
  } catch {
    parsed = undefined; // the service answers malformed JSON itself
  }
  return options.permissions.authorize(caller, { service, operation, body: parsed ?? {}, method, path });
}

/** One SQS request, however it came (over HTTP or {@link AwsEndpoint.sqs}). */
interface SqsRequest {
  action: string;
  body: Buffer;
  caller: string | undefined;
  /** This endpoint's host and port as the caller addressed it: queue URLs are given back on it. */
  host: string;
  headers: IncomingMessage['headers'];
  method?: string;
  path?: string;
  signal?: AbortSignal;
}

/**
 * Counts, authorizes, and answers an SQS request: a refusal, the local extension's answer
 * (message move tasks), or fauxqs's, metered.
 */
async function sqsCall(options: AwsEndpointOptions, call: SqsRequest): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const { action, caller } = call;
  const receive = action === 'ReceiveMessage';
  if (!receive) options.onRequest?.('sqs', action, { caller });
  const refusal = await authorizeCall(options, caller, 'sqs', action, call.body, call.method, call.path);
  if (refusal) {
    if (receive) options.onRequest?.('sqs', action, { caller, empty: true });
    return { status: refusal.status, headers: refusal.headers ?? {}, body: refusal.body };
  }
  const extension = options.sqsExtensions?.(action);
  if (extension) {
    const result = await extension(action, call.body);
    return { status: result.status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(result.body) };
  }
  const meter = options.meter?.active ? options.meter : undefined;
  return forwardSqs(call, options.sqsUrl, (body, response) => {
    meter?.sqs(action, body, response);
    if (receive) options.onRequest?.('sqs', action, { caller, empty: !/"Messages"\s*:\s*\[\s*\{/.test(response) });
  });
}

/**
 * S3 speaks REST without `X-Amz-Target`; its requests are told apart by the credential scope of
 * their SigV4 signature (`…/<region>/s3/aws4_request`). The SDK addresses buckets path-style
 * here because this endpoint is an IP address.
 */
function isSignedForS3(req: IncomingMessage): boolean {
  return /Credential=[^,]*\/s3\/aws4_request/.test(String(req.headers.authorization ?? ''));
}

async function answerLocally(
  req: IncomingMessage,
  res: ServerResponse,
  action: string,
  handler: LocalActionHandler,
  contentType: string,
  readAlready?: Buffer,
): Promise<void> {
  const body = readAlready ?? (await readBody(req));
  const result = await handler(action, body);
  sendJson(res, result.status, result.body, contentType);
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/…`, a host name that does not
 * resolve everywhere; the SDK would follow it. Queue URLs are therefore rewritten to this
 * endpoint's own address on the way out, and back on the way in.
 */
async function forwardSqs(
  call: SqsRequest,
  upstream: string,
  meter?: (request: string, response: string) => void,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const port = call.host.split(':')[1] ?? '80';
  const ours = `http://${call.host}/`;
  const theirs = (region: string): string => `http://sqs.${region}.localhost:${port}/`;
  const body = call.body.toString('utf8').replace(/http:\/\/(?:127\.0\.0\.1|localhost):\d+\//g, theirs('us-east-1'));
  const response = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>(
    (resolve, reject) => {
      const upstreamRequest = request(
        new URL(call.path ?? '/', upstream),
        {
          method: call.method ?? 'POST',
          headers: { ...call.headers, 'content-length': String(Buffer.byteLength(body)) },
          ...(call.signal ? { signal: call.signal } : {}),
        },
        (upstreamResponse) => {
          const chunks: Buffer[] = [];
          upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstreamResponse.on('end', () =>
            resolve({
              status: upstreamResponse.statusCode ?? 502,
              headers: upstreamResponse.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          upstreamResponse.on('error', reject);
        },
      );
      upstreamRequest.on('error', reject);
      upstreamRequest.end(body);
    },
  );
  meter?.(body, response.body);
  const rewritten = response.body.replace(/http:\/\/sqs\.[a-z0-9-]+\.localhost:\d+\//g, ours);
  const { 'content-length': _length, ...headers } = response.headers;
  return { status: response.status, headers, body: rewritten };
}

/**
 * DynamoDB's refusal of a write that dynalite would take (see `dynamodb-limits.ts`), or
 * undefined. Key schemas come from dynalite's DescribeTable, cached until a table changes.
 */
async function refuseOverLimits(
  action: Parameters<typeof checkWriteRequest>[0],
  body: Buffer,
  req: IncomingMessage,
  dynamoDbUrl: string,
  tableKeys: Map<string, TableKeys>,
): Promise<string | undefined> {
  let request: Record<string, unknown>;
  try {
    request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // dynalite answers malformed JSON itself
  }
  if (request === null || typeof request !== 'object') return undefined;
  for (const table of tablesWritten(action, request)) {
    // Only a schema is kept: an absent table (or a failed describe) is asked about again.
    if (!tableKeys.has(table)) {
      const keys = await describeKeys(table, req, dynamoDbUrl);
      if (keys) tableKeys.set(table, keys);
    }
  }
  return checkWriteRequest(action, request, (table) => tableKeys.get(table));
}

/** Calls dynalite directly with the credentials of `req`; the parsed answer (an error's body too). */
async function callDynamoDb(action: string, payload: Record<string, unknown>, req: IncomingMessage, dynamoDbUrl: string): Promise<Record<string, unknown>> {
  const response = await fetch(dynamoDbUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${action}`,
      authorization: String(req.headers.authorization ?? ''),
      'x-amz-date': String(req.headers['x-amz-date'] ?? ''),
    },
    body: JSON.stringify(payload),
  });
  return (await response.json()) as Record<string, unknown>;
}

/** A table's key schema from dynalite, or undefined if it has none (absent table). */
async function describeKeys(table: string, req: IncomingMessage, dynamoDbUrl: string): Promise<TableKeys | undefined> {
  const response = await fetch(dynamoDbUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.DescribeTable',
      authorization: String(req.headers.authorization ?? ''),
      'x-amz-date': String(req.headers['x-amz-date'] ?? ''),
    },
    body: JSON.stringify({ TableName: table }),
  });
  if (!response.ok) return undefined;
  type KeySchema = { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  type Index = { IndexName: string; KeySchema: KeySchema };
  const { Table } = (await response.json()) as {
    Table?: { KeySchema: KeySchema; GlobalSecondaryIndexes?: Index[]; LocalSecondaryIndexes?: Index[] };
  };
  if (!Table) return undefined;
  const keyOf = (schema: KeySchema, type: 'HASH' | 'RANGE'): string | undefined => schema.find((key) => key.KeyType === type)?.AttributeName;
  return {
    partitionKey: keyOf(Table.KeySchema, 'HASH') ?? '',
    sortKey: keyOf(Table.KeySchema, 'RANGE'),
    indexes: [...(Table.GlobalSecondaryIndexes ?? []), ...(Table.LocalSecondaryIndexes ?? [])].map((index) => ({
      name: index.IndexName,
      partitionKey: keyOf(index.KeySchema, 'HASH') ?? '',
      sortKey: keyOf(index.KeySchema, 'RANGE'),
    })),
  };
}

/**
 * Relays a request to `upstream`, its body streamed, or `body` when it was read already;
 * resolves with the answer's status and bytes (kept only when `body` was given: the metered path).
 */
/**
 * S3 answers a read of a missing object with 404 only to a caller allowed `s3:ListBucket` on
 * the bucket, and with 403 AccessDenied to any other, so as not to reveal which keys exist
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"). The
 * answer a function without that permission gets in place of a 404 of an object read, if it is one.
 */
async function listBucketRefusal(req: IncomingMessage, options: AwsEndpointOptions): Promise<ServiceResponse | undefined> {
  const caller = accessKeyIdOf(req.headers.authorization);
  if (!options.permissions?.isFunctionKey(caller) || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
  const [bucket, ...key] = new URL(req.url ?? '/', 'http://s3.local').pathname.split('/').filter(Boolean);
  if (!bucket || key.length === 0) return undefined;
  return options.permissions.authorize(caller, { service: 's3', operation: '', body: {}, method: 'GET', path: `/${bucket}` });
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: string,
  body?: Buffer,
  /** An answer to give instead of the upstream's 4xx, by its status and body. */
  replace?: (status: number, body: string) => ServiceResponse | undefined,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const url = new URL(req.url ?? '/', upstream);
    const upstreamRequest = request(
      url,
      { method: req.method, headers: req.headers },
      (upstreamResponse) => {
        const status = upstreamResponse.statusCode ?? 502;
        if (replace && status >= 400 && status < 500) {
          // An error answer is small: read it whole, then give it or the replacement.
          const chunks: Buffer[] = [];
          upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstreamResponse.on('error', reject);
          upstreamResponse.on('end', () => {
            const answer = Buffer.concat(chunks);
            const replacement = replace(status, answer.toString('utf8'));
            if (replacement) {
              res.writeHead(replacement.status, { ...replacement.headers, 'content-length': String(Buffer.byteLength(replacement.body)) });
              res.end(req.method === 'HEAD' ? undefined : replacement.body);
            } else {
              res.writeHead(status, upstreamResponse.headers);
              res.end(answer);
            }
            resolve({ status: replacement?.status ?? status, body: Buffer.alloc(0) });
          });
          return;
        }
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        const chunks: Buffer[] = [];
        if (body) upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
        upstreamResponse.pipe(res);
        upstreamResponse.on('end', () => resolve({ status: upstreamResponse.statusCode ?? 502, body: Buffer.concat(chunks) }));
        upstreamResponse.on('error', reject);
      },
    );
    upstreamRequest.on('error', reject);
    if (body) upstreamRequest.end(body);
    else req.pipe(upstreamRequest);
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts listening on 127.0.0.1 (`port` 0 picks a free one). */
export function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes a server, dropping idle keep-alive connections so it stops at once. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
