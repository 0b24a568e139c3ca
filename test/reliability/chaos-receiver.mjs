// The reliability run's receiver, in its own process. Requests under /chaos/ get a random
// answer (the mix is in CHAOS below); requests under /ok/ always get 200. Every request is
// reported to the parent over IPC with its headers, raw body and the answer given, so the
// parent can check signatures, bodies and duplicates.
import { createServer } from 'node:http';
import { listenForParent, reportToParent } from '../support/child-receiver.mjs';

const HANG_MS = Number(process.env.CHAOS_HANG_MS ?? 1500);
let state = Number(process.env.CHAOS_SEED ?? 1) >>> 0;

/** mulberry32: a small seeded generator, so a run's mix of answers is repeatable. */
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Share of each answer under /chaos/; what is left is a plain 200. */
const CHAOS = [
  [0.06, { status: 500 }],
  [0.03, { status: 503 }],
  [0.05, { status: 429, headers: { 'retry-after': '1' } }],
  [0.03, { hang: true }],
  [0.04, { reset: true }],
  [0.02, { status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } }],
  [0.03, { status: 200, delayMs: 200 }],
  [0.03, { status: 204 }],
];

function pick() {
  let roll = random();
  for (const [share, answer] of CHAOS) {
    if (roll < share) return answer;
    roll -= share;
  }
  return { status: 200 };
}

const reportReceipt = reportToParent();

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    // /never: an endpoint that never answers (the connection stays open until the client gives up).
    if (req.url === '/never') return;
    const answer = req.url?.startsWith('/chaos/') ? pick() : { status: 200 };
    const report = (outcome) =>
      reportReceipt({
        path: req.url,
        id: req.headers['webhook-id'],
        timestamp: req.headers['webhook-timestamp'],
        signature: req.headers['webhook-signature'],
        body: Buffer.concat(chunks).toString('utf8'),
        outcome,
      });
    if (answer.reset) {
      report('reset');
      req.socket.destroy();
    } else if (answer.hang) {
      report('hang');
      setTimeout(() => req.socket.destroy(), HANG_MS);
    } else {
      const reply = () => {
        // A 2xx counts only when the client was still there to get it.
        if (req.socket.destroyed) return report('gone');
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
        report(answer.status);
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    }
  });
});
listenForParent(server);
