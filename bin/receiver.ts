#!/usr/bin/env node
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { UsageError, parseCliArgs, runCli } from './cli';

const USAGE = `Usage: npm run receiver -- --secret whsec_... [--port 8787] [--fail N] [--select <user id>]

A small webhook receiver: verifies each POST (on any path) with the reference Standard Webhooks
library, deduplicates on webhook-id, prints it and answers 200; a request signed with another
secret gets a 401 naming the subscription it was signed for.
  --secret     the subscription's signing secret, as the API returned it (whsec_…)
  --port       where to listen on 127.0.0.1 (0 picks a free port) [8787]
  --fail N     answer 500 to the first N verified requests, to watch retries [0]
  --select ID  answer operator.select requests with {"operators":[{"id_user":"ID"}]}`;

/** `whsec_` and the base64 of the key, as the subscription API returns it. */
const SECRET_FORMAT = /^whsec_[A-Za-z0-9+/]{16,}={0,2}$/;

runCli(async () => {
  const { values } = parseCliArgs({
    secret: { type: 'string' },
    port: { type: 'string', default: '8787' },
    fail: { type: 'string', default: '0' },
    select: { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const secret = values.secret;
  if (secret === '') {
    throw new UsageError('--secret is empty: paste the export SUB=… SECRET=… line that npm run -s exports printed, or give the secret itself');
  }
  if (!secret) throw new UsageError("--secret is required: the subscription's secret (whsec_…) from its creation (--help shows the usage)");
  if (!SECRET_FORMAT.test(secret)) {
    throw new UsageError(
      `--secret must be the subscription's secret exactly as the API returned it (whsec_ and base64); got ${JSON.stringify(secret)}${secret.includes('…') ? " — a placeholder: paste the subscription's own secret" : ''}`,
    );
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`--port must be a port number from 0 to 65535; got ${values.port}`);
  if (!/^\d+$/.test(values.fail)) throw new UsageError(`--fail must be a whole number of requests; got ${values.fail}`);
  const select = values.select;
  if (select !== undefined && !select.trim()) throw new UsageError('--select needs the user id to answer operator.select with, e.g. --select u1');
  await serve({ verifier: new Webhook(secret), port, toFail: Number(values.fail), select });
});

async function serve(options: { verifier: Webhook; port: number; toFail: number; select?: string }): Promise<void> {
  const seen = new Set<string>();
  let toFail = options.toFail;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
      try {
        options.verifier.verify(body, headers);
      } catch (error) {
        const why = rejectionOf(body, (error as Error).message);
        console.log(`REJECTED ${req.method} ${req.url}: ${why}`);
        // The body is kept in the sender's attempt log, so the subscriber's owner reads it there too.
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}\n`);
        return;
      }
      const id = headers['webhook-id'] ?? '';
      if (toFail > 0) {
        toFail -= 1;
        console.log(`verified ${id}, answering 500 on purpose (${toFail} more to fail)`);
        res.writeHead(500).end('failing on purpose');
        return;
      }
      const duplicate = seen.has(id);
      seen.add(id);
      const { event, payload } = webhookBody(body);
      console.log(`${duplicate ? 'duplicate' : 'verified'} ${id} ${event} ${JSON.stringify(payload)}`);
      if (event === 'operator.select' && options.select) {
        const answer = JSON.stringify({ operators: [{ id_user: options.select }] });
        console.log(`answered operator.select with ${answer}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
        return;
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(`--port ${options.port} is in use: is another receiver still running? Stop it (a subscription's target names its port), or choose another port (0 picks a free one)`)
          : error,
      ),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  console.log(`receiver on http://127.0.0.1:${port}/hook — it answers on every path of this port (e.g. /hook, /select), verifying with the subscription's secret`);
  if (options.toFail > 0) console.log(`it answers 500 to the first ${options.toFail} verified request(s), on purpose (--fail), then 200`);
}

/**
 * The event and payload of a verified body (JSON: the verifier parsed it). The stack always
 * sends Tiledesk's `{hook, timestamp, payload, token}`; a request signed by hand may carry any
 * JSON, printed whole rather than ending the receiver.
 */
function webhookBody(body: string): { event: string; payload: unknown } {
  const parsed: unknown = JSON.parse(body);
  const { hook, payload } = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as { hook?: { event?: unknown }; payload?: unknown };
  if (typeof hook?.event === 'string') return { event: hook.event, payload };
  return { event: '(no hook.event)', payload: parsed };
}

/**
 * Why a request failed verification, in terms of what to fix. A signature that does not match
 * usually means the secret given here is another subscription's, or was rotated since: the
 * body's `hook` (unsigned for us, so only a hint) names the subscription the sender signed for.
 */
function rejectionOf(body: string, reason: string): string {
  let hook: { _id?: unknown; event?: unknown; target?: unknown } | undefined;
  try {
    hook = (JSON.parse(body) as { hook?: typeof hook }).hook;
  } catch {
    // Not JSON: nothing to name.
  }
  if (!/signature/i.test(reason) || typeof hook?._id !== 'string') return reason;
  return (
    `${reason}: the secret given with --secret is not the one of subscription ${hook._id} ` +
    `(${String(hook.event)} → ${String(hook.target)}); it belongs to another subscription or was rotated since — ` +
    `restart the receiver with the secret that subscription's creation or rotate-secret answered`
  );
}
