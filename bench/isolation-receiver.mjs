// The isolation phase's receiver, in its own process: /healthy/<name> answers 200 at once and
// reports each receipt (webhook-id, arrival, the payload's sentAt, the path); /hang never
// answers; /slow answers after 3 s; /slow/<name> answers after 3 s and reports the receipt then;
// /fail answers 500 at once.
import { createServer } from 'node:http';
import { listenForParent, reportToParent } from '../test/support/child-receiver.mjs';

const report = reportToParent();

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const at = Date.now();
    if (req.url === '/hang') return;
    if (req.url === '/slow') {
      setTimeout(() => res.writeHead(200).end('ok'), 3000);
      return;
    }
    if (req.url?.startsWith('/slow/')) {
      setTimeout(() => {
        res.writeHead(200).end('ok');
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          report({ id: req.headers['webhook-id'], at: Date.now(), sentAt: body.payload?.sentAt ?? 0, path: req.url });
        } catch {
          report({ id: 'unparsable', at: Date.now(), sentAt: 0, path: req.url });
        }
      }, 3000);
      return;
    }
    if (req.url === '/fail') {
      res.writeHead(500).end('down');
      return;
    }
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      report({ id: req.headers['webhook-id'], at, sentAt: body.payload?.sentAt ?? 0, path: req.url });
    } catch {
      report({ id: 'unparsable', at, sentAt: 0, path: req.url });
    }
  });
});
listenForParent(server);
