import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEventV2WithLambdaAuthorizer,
  APIGatewayProxyStructuredResultV2,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  Context,
} from 'aws-lambda';
import { CORS } from '../lambdas/core/settings';
import { closeServer, listen } from './aws-endpoint';
import { localLambdaContext } from './lambda-context';

/** The most an HTTP API waits for a Lambda authorizer's answer ("Timeout for Lambda authorizer response", HTTP API quotas). */
export const HTTP_API_AUTHORIZER_TIMEOUT_MS = 10_000;

/** Middy-wrapped handlers take a third options argument the local runtime never passes. */
type AuthorizerHandler = (event: APIGatewayRequestAuthorizerEventV2, context: Context, ...rest: never[]) => unknown;

/** Each function types its own authorizer context, so the event is only checked at its edge. */
type RouteHandler = (event: never, context: Context, ...rest: never[]) => unknown;
type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<Record<string, unknown>>;

/** A Lambda function behind the API: its name, handler and timeout. */
export interface LocalApiFunction<Handler> {
  functionName: string;
  handler: Handler;
  /** The function's timeout: a slower call answers 500, as API Gateway does then. */
  timeoutSeconds: number;
}

/** A route of the HTTP API: `METHOD /path/{param}`, the function behind it, as the template deploys it. */
export interface LocalRoute extends LocalApiFunction<RouteHandler> {
  routeKey: string;
  /** The route's Lambda authorizer. @default none: the route is public */
  authorizer?: LocalApiFunction<AuthorizerHandler>;
  /** When API Gateway stops waiting: 503. @default 30 s, the HTTP API maximum */
  integrationTimeoutMs?: number;
  /** The stage's token bucket for this route: above it, 429. @default none */
  throttle?: { rateLimit: number; burstLimit: number };
}

export interface ApiServerOptions {
  port: number;
  routes: LocalRoute[];
  /** Browser origins allowed by CORS, as the deployed API's `corsPreflight`. @default none */
  corsOrigins?: readonly string[];
}

export interface ApiServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * HTTP API limits as the API Gateway quotas page gives them
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html):
 * a 10 MB payload and at most 30 s of integration time.
 */
export const HTTP_API_LIMITS = { payloadBytes: 10 * 1024 * 1024, integrationTimeoutMs: 30_000 } as const;

/**
 * Lambda's own limits on a synchronous invocation, lower than the HTTP API's: 6 MB of event
 * JSON in (6,291,456 bytes), and of result JSON out (6,291,556), each as serialized, so a JSON
 * body's quotes count twice once escaped into the event's `body` string (the Lambda quotas page,
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Over the first
 * API Gateway answers 413 `Request Too Long`; over the second the invocation fails and the
 * caller gets a 502.
 */
export const LAMBDA_SYNC_LIMITS = { requestBytes: 6 * 1024 * 1024, responseBytes: 6 * 1024 * 1024 + 100 } as const;

/**
 * Whether `value` serializes past `limit` bytes. Below a sixth of it nothing can: JSON escapes
 * one byte into at most six (`\u0001`), so small requests and answers cost no serialization.
 */
function serializesPast(value: unknown, rawBytes: number, limit: number): boolean {
  return rawBytes * 6 > limit && Buffer.byteLength(JSON.stringify(value)) > limit;
}

interface CompiledRoute extends LocalRoute {
  method: string;
  pattern: RegExp;
  names: string[];
  bucket?: TokenBucket;
}

/**
 * The local HTTP API: turns each request into the API Gateway v2 (payload 2.0) event the
 * deployed API sends, runs the same authorizer and handler modules, and writes their result.
 * Route matching prefers literal segments over parameters, as API Gateway does.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const routes = options.routes.map(compileRoute).sort((a, b) => specificity(b) - specificity(a));
  for (const route of routes) if (route.throttle) route.bucket = new TokenBucket(route.throttle.rateLimit, route.throttle.burstLimit);
  const server = createServer((req, res) => {
    serve(req, res, routes, options).catch((error: unknown) => {
      // A function error: API Gateway answers these words and nothing of the error; the
      // developer running the stack sees it here.
      process.stderr.write(`local API: ${req.method} ${req.url?.split('?')[0]} failed: ${String(error)}\n`);
      writeJson(res, 500, { message: 'Internal Server Error' });
    });
  });
  await listen(server, options.port);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stop: () => closeServer(server) };
}

/**
 * The request target's path and query, as sent. A WHATWG URL parser would rewrite the path
 * (a backslash becomes a slash, `//x` becomes a host) while API Gateway passes it through; a
 * target that is not origin-form (`/path?query`) is refused.
 */
function splitTarget(target: string): { path: string; query: string } | undefined {
  if (!target.startsWith('/')) return undefined;
  const mark = target.indexOf('?');
  return mark < 0 ? { path: target, query: '' } : { path: target.slice(0, mark), query: target.slice(mark + 1) };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  routes: CompiledRoute[],
  options: ApiServerOptions,
): Promise<void> {
  const target = splitTarget(req.url ?? '/');
  if (!target) {
    writeJson(res, 400, { message: 'Bad Request' });
    return;
  }
  const { path, query } = target;
  const method = req.method ?? 'GET';
  const cors = corsHeaders(req, options.corsOrigins ?? []);
  for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
  if (method === 'OPTIONS' && req.headers['access-control-request-method']) {
    // A preflight, answered before any route or authorizer as API Gateway does; an origin
    // not allowed gets no CORS headers, so the browser refuses the call.
    res.writeHead(204, cors.vary ? preflightHeaders() : {});
    res.end();
    return;
  }
  let match: ReturnType<typeof findRoute>;
  try {
    match = findRoute(routes, method, path);
  } catch {
    // A malformed percent-escape in a path parameter, which API Gateway also refuses.
    writeJson(res, 400, { message: 'Bad Request' });
    return;
  }
  if (!match) {
    writeJson(res, 404, { message: 'Not Found' });
    return;
  }
  if (match.route.bucket && !match.route.bucket.take()) {
    writeJson(res, 429, { message: 'Too Many Requests' });
    req.resume();
    return;
  }
  const body = await readLimited(req, HTTP_API_LIMITS.payloadBytes);
  if (body === undefined) {
    writeJson(res, 413, { message: 'Request Entity Too Large' });
    return;
  }
  const { headers, cookies } = payloadHeaders(req.rawHeaders);
  const requestContext = {
    accountId: '000000000000',
    apiId: 'local',
    domainName: String(req.headers.host ?? '127.0.0.1'),
    domainPrefix: 'local',
    http: {
      method,
      path,
      protocol: 'HTTP/1.1',
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: randomUUID(),
    routeKey: match.route.routeKey,
    stage: '$default',
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  };
  const common = {
    version: '2.0' as const,
    routeKey: match.route.routeKey,
    rawPath: path,
    rawQueryString: query,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    queryStringParameters: query ? queryParameters(query) : undefined,
    pathParameters: match.params,
  };
  const { authorizer } = match.route;
  const authorization = !authorizer
    ? { isAuthorized: true, context: undefined }
    : await withinTimeout<AuthorizerResult>(
        authorizer.handler(
          { cookies: [], ...common, type: 'REQUEST', routeArn: `arn:local:${match.route.routeKey}`, identitySource: [], requestContext },
          localLambdaContext(authorizer.functionName, authorizer.timeoutSeconds),
        ),
        // API Gateway waits at most 10 s for a Lambda authorizer, whatever the function's timeout.
        Math.min(authorizer.timeoutSeconds * 1000, HTTP_API_AUTHORIZER_TIMEOUT_MS),
      );
  // An authorizer that timed out, or answered something other than a simple response (a boolean
  // `isAuthorized`), is an error to API Gateway: 500, the request never reaches its route.
  if (typeof authorization?.isAuthorized !== 'boolean') {
    writeJson(res, 500, { message: 'Internal Server Error' });
    return;
  }
  if (!authorization.isAuthorized) {
    writeJson(res, 403, { message: 'Forbidden' });
    return;
  }
  const event: APIGatewayProxyEventV2WithLambdaAuthorizer<Record<string, unknown>> = {
      ...common,
      body: body.length > 0 ? body.toString('utf8') : undefined,
      isBase64Encoded: false,
      // A route without an authorizer gets no `authorizer` in its context, as on AWS.
      requestContext: {
        ...requestContext,
        ...(authorization.context && { authorizer: { lambda: authorization.context } }),
      } as APIGatewayProxyEventV2WithLambdaAuthorizer<Record<string, unknown>>['requestContext'],
  };
  if (serializesPast(event, body.length, LAMBDA_SYNC_LIMITS.requestBytes)) {
    writeJson(res, 413, { message: 'Request Too Long' });
    return;
  }
  const { timeoutSeconds } = match.route;
  const integrationTimeoutMs = Math.min(match.route.integrationTimeoutMs ?? HTTP_API_LIMITS.integrationTimeoutMs, HTTP_API_LIMITS.integrationTimeoutMs);
  const functionTimedOut = timeoutSeconds * 1000 <= integrationTimeoutMs;
  const result = await withinTimeout(
    match.route.handler(event as never, localLambdaContext(match.route.functionName, timeoutSeconds)),
    Math.min(timeoutSeconds * 1000, integrationTimeoutMs),
  );
  if (!result) {
    // The function stopped at its timeout (a Lambda error: 500), or API Gateway stopped waiting first (503).
    writeJson(res, functionTimedOut ? 500 : 503, { message: functionTimedOut ? 'Internal Server Error' : 'Service Unavailable' });
    return;
  }
  if (serializesPast(result, Buffer.byteLength(result.body ?? ''), LAMBDA_SYNC_LIMITS.responseBytes)) {
    writeJson(res, 502, { message: 'Internal Server Error' });
    return;
  }
  res.writeHead(result.statusCode ?? 200, integrationHeaders(result.headers as Record<string, string> | undefined, options.corsOrigins));
  res.end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''));
}

/**
 * Request headers as payload format 2.0 gives them: names lowercased, a header given twice one
 * value joined by commas ("Duplicate headers are combined with commas", Lambda integrations for
 * HTTP APIs; Node keeps only the first of some, e.g. `authorization`, and joins others with
 * `, `), and cookies out of the headers into `cookies` ("All cookie headers in the request are
 * combined with commas and added to the cookies field").
 */
function payloadHeaders(rawHeaders: readonly string[]): { headers: Record<string, string>; cookies: string[] } {
  const headers = new Map<string, string>();
  const cookies: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!.toLowerCase();
    const value = rawHeaders[index + 1]!;
    if (name === 'cookie') cookies.push(...value.split(';').map((cookie) => cookie.trim()).filter(Boolean));
    else headers.set(name, headers.has(name) ? `${headers.get(name)},${value}` : value);
  }
  return { headers: Object.fromEntries(headers), cookies };
}

/**
 * The query string as payload format 2.0 gives it: a parameter given twice is one value, its
 * values joined by commas (`?page=0&page=1` is `"0,1"`), not the last one.
 */
function queryParameters(query: string): Record<string, string> {
  const parameters = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(query)) {
    const earlier = parameters.get(name);
    parameters.set(name, earlier === undefined ? value : `${earlier},${value}`);
  }
  // As own keys, `__proto__` included (an assignment to it would set no key).
  return Object.fromEntries(parameters);
}

/**
 * The handler's result, or `undefined` once the function's timeout (or the integration's) has
 * passed: Lambda would have stopped it there, so a call that only succeeds locally because it
 * may run longer fails here as it would when deployed. (The handler's promise settles on its own.)
 */
async function withinTimeout<Result = APIGatewayProxyStructuredResultV2>(call: unknown, timeoutMs: number): Promise<Result | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([call as Promise<Result>, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The function's response headers as API Gateway passes them on: with CORS configured, "API
 * Gateway ignores CORS headers returned from your backend integration" (Configuring CORS for an
 * HTTP API), so its own (set above, or none for an origin not allowed) are the only ones.
 */
function integrationHeaders(headers: Record<string, string> | undefined, corsOrigins: readonly string[] | undefined): Record<string, string> | undefined {
  if (!headers || !corsOrigins?.length) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.toLowerCase().startsWith('access-control-')));
}

/** The CORS headers of a response to `req`: none unless its Origin is allowed. */
function corsHeaders(req: IncomingMessage, allowed: readonly string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || !allowed.includes(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': CORS.exposeHeaders.join(', '),
    vary: 'origin',
  };
}

function preflightHeaders(): Record<string, string> {
  return {
    'access-control-allow-methods': CORS.allowMethods.join(', '),
    'access-control-allow-headers': CORS.allowHeaders.join(', '),
    'access-control-max-age': String(CORS.maxAgeSeconds),
  };
}

function compileRoute(route: LocalRoute): CompiledRoute {
  const [method = 'GET', path = '/'] = route.routeKey.split(' ');
  const names: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  // A trailing slash reaches the same route, as HTTP APIs route `/x/` to `GET /x` (a route key
  // cannot end in `/`); the function still sees the path as sent (`rawPath`).
  return { ...route, method, pattern: new RegExp(`^${source}/?$`), names };
}

/** More path segments first; among equals, fewer parameters (literal segments win). */
const specificity = (route: CompiledRoute): number =>
  (route.routeKey.split(' ')[1] ?? '/').split('/').length * 10 - route.names.length;

function findRoute(
  routes: CompiledRoute[],
  method: string,
  path: string,
): { route: CompiledRoute; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const found = route.pattern.exec(path);
    if (!found) continue;
    const params = Object.fromEntries(route.names.map((name, index) => [name, decodeURIComponent(found[index + 1] ?? '')]));
    return { route, params };
  }
  return undefined;
}

function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * API Gateway's throttle: the token bucket algorithm, one token a request, `burstLimit` tokens
 * at most, refilled at `rateLimit` a second
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt = performance.now();

  constructor(
    private readonly rateLimit: number,
    private readonly burstLimit: number,
  ) {
    this.tokens = burstLimit;
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burstLimit, this.tokens + ((now - this.refilledAt) / 1000) * this.rateLimit);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
