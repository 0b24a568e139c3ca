// The benchmark's receiver, in its own process so its CPU is not counted as the pipeline's.
// Answers 200 to every POST and reports each receipt (webhook-id, arrival time, payload's
// sentAt) to the parent over IPC in batches.
import { createServer } from 'node:http';
import { listenForParent, reportToParent } from '../test/support/child-receiver.mjs';

const report = reportToParent();

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
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
