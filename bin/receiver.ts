#!/usr/bin/env node
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';

/**
 * `npm run receiver -- --secret whsec_… [--port 8787] [--fail 2]`: a small webhook receiver
 * that verifies each POST with the reference Standard Webhooks library, deduplicates on
 * `webhook-id`, prints it, and answers 200 (or 500 for the first `--fail` requests).
 */
const { values } = parseArgs({
  options: {
    secret: { type: 'string' },
    port: { type: 'string', default: '8787' },
    fail: { type: 'string', default: '0' },
  },
});
if (!values.secret) {
  console.error('Usage: npm run receiver -- --secret whsec_... [--port 8787] [--fail N]');
  process.exit(2);
}
const verifier = new Webhook(values.secret);
const seen = new Set<string>();
let toFail = Number(values.fail);

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
    try {
      verifier.verify(body, headers);
    } catch (error) {
      console.log(`REJECTED ${req.method} ${req.url}: ${(error as Error).message}`);
      res.writeHead(401).end();
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
    const { hook, payload } = JSON.parse(body) as { hook: { event: string }; payload: unknown };
    console.log(`${duplicate ? 'duplicate' : 'verified'} ${id} ${hook.event} ${JSON.stringify(payload)}`);
    res.writeHead(200).end('ok');
  });
}).listen(Number(values.port), '127.0.0.1', () => {
  console.log(`receiver on http://127.0.0.1:${values.port}/hook — verifying with the subscription's secret`);
});
