import { Agent, request } from 'node:http';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DirectSqs } from '../aws-endpoint';
import { runningFunctionId } from '../iam/function-credentials';

/** What Lambda's pollers and EventBridge's sender need of SQS: the SDK client's `send`. */
export type AwsSideSqs = Pick<SQSClient, 'send'>;

/** SQS's error in its JSON protocol, with the fields the SDK's errors carry. */
export class AwsSideSqsError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: 'client' | 'server';
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status < 500 ? 'client' : 'server';
  }
}

/**
 * The SQS client of what AWS runs for the stack: Lambda's pollers and EventBridge's sender. On
 * AWS their work is AWS's CPU, not the functions'; here it shares the machine with them. So they
 * speak SQS's JSON protocol straight to the local endpoint, without the SDK's middleware stack,
 * schema serde and SigV4 signing, which were about a quarter of the main loop's CPU in the
 * throughput loop's profile (docs/design.md §3.14). What the endpoint sees is the same: the
 * action in `X-Amz-Target`, the same JSON, and a SigV4-shaped `Authorization` whose access key
 * id is the running function's (the endpoint authorizes by it and checks no signature).
 * The stack hands it the endpoint's in-process entry ({@link DirectSqs}), which answers as a
 * request over HTTP would, without an HTTP round trip from this loop to itself (the throughput
 * loop's CPU per delivery, alternate runs: 0.96 and 0.92 ms before, 0.87 and 0.90 after). Given
 * a URL, it POSTs with an agent without a socket cap: an idle poller holds a socket through each
 * long poll, and with the SDK's default of 50 the slow lane's 50 idle pollers once held them all
 * (§3.14).
 * Commands are the SDK's own (`new ReceiveMessageCommand(…)`), so callers read as they would with
 * the SDK; errors carry the SDK's `name`, `$metadata.httpStatusCode` and `$fault`.
 */
export function awsSideSqs(endpoint: string | DirectSqs, region: string): AwsSideSqs {
  const post = typeof endpoint === 'string' ? overHttp(endpoint) : endpoint;
  const fallbackKeyId = () => process.env.AWS_ACCESS_KEY_ID ?? 'local';
  const call = async (action: string, body: string, keyId: string, signal: AbortSignal | undefined): Promise<unknown> => {
    const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const headers = {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${action}`,
      'x-amz-date': date,
      authorization:
        `AWS4-HMAC-SHA256 Credential=${keyId}/${date.slice(0, 8)}/${region}/sqs/aws4_request, ` +
        'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=unsigned',
    };
    const { status, body: text } = await post({ action, body, headers, signal });
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new AwsSideSqsError('SerializationException', `SQS answered ${status} with a body that is not JSON`, status);
    }
    if (status >= 300) {
      const type = String(parsed.__type ?? 'UnknownError');
      throw new AwsSideSqsError(type.slice(type.lastIndexOf('#') + 1), String(parsed.message ?? parsed.Message ?? `SQS answered ${status}`), status);
    }
    return { ...parsed, $metadata: { httpStatusCode: status } };
  };
  const send = async (command: { input: unknown; constructor: { name: string } }, options?: { abortSignal?: AbortSignal }): Promise<unknown> => {
    const action = command.constructor.name.replace(/Command$/, '');
    const body = JSON.stringify(command.input);
    const keyId = runningFunctionId() ?? fallbackKeyId();
    // As the SDK's standard retry mode: 3 attempts for a 5xx or a dropped connection (a kept-alive
    // socket the server closed as it was reused), with jittered backoff; never for an abort.
    for (let attempt = 1; ; attempt++) {
      try {
        return await call(action, body, keyId, options?.abortSignal);
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || options?.abortSignal?.aborted || !isTransient(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** (attempt - 1)));
      }
    }
  };
  return { send } as unknown as AwsSideSqs;
}

const MAX_ATTEMPTS = 3;
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);

function isTransient(error: unknown): boolean {
  if (error instanceof AwsSideSqsError) return error.$fault === 'server';
  return TRANSIENT_CODES.has((error as NodeJS.ErrnoException).code ?? '');
}

/** SQS's JSON protocol POSTed to an endpoint over HTTP. */
function overHttp(endpoint: string): DirectSqs {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const url = new URL(endpoint);
  return ({ body, headers, signal }) =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: '/', method: 'POST', agent, signal, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
