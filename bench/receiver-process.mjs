// The benchmark's receiver, in its own process so its CPU is not counted as the pipeline's.
// Answers 200 to every POST and reports each receipt (webhook-id, arrival time, payload's
// sentAt) to the parent over IPC in batches. The parent may send `{ failRate }`: that share of
// webhooks, chosen at random, is answered 500 on its first attempt (and 200 on a retry), as a
// receiver that fails now and then; failed attempts are not reported as receipts.
import { createServer } from 'node:http';
import { listenForParent, reportToParent } from '../test/support/child-receiver.mjs';

const report = reportToParent();
let failRate = 0;
const failedOnce = new Set();
process.on('message', (message) => {
  if (typeof message?.failRate === 'number') {
    failRate = message.failRate;
    failedOnce.clear();
  }
});

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const id = String(req.headers['webhook-id'] ?? '');
    if (req.url !== '/raw' && failRate > 0 && !failedOnce.has(id) && Math.random() < failRate) {
      failedOnce.add(id);
      res.writeHead(500, { 'content-length': '5' });
      res.end('error');
      return;
    }
    failedOnce.delete(id);
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
    if (req.url === '/raw') return;
    const now = Date.now();
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      report({ id: req.headers['webhook-id'], at: now, sentAt: body.payload?.sentAt ?? 0 });
    } catch {
      report({ id: 'unparsable', at: now, sentAt: 0 });
    }
  });
});
listenForParent(server);
