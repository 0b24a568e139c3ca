// The hostile-receivers benchmark's receivers, in their own process: /healthy answers 200 at
// once and reports each receipt to the parent; every other path is one of 14 misbehaving
// receivers. Raw sockets, so a receiver can break HTTP in ways a well-behaved server cannot.
// The healthy receiver listens on a port of its own, as a separate host would: a client keeps
// one connection pool per host and port, which hostile receivers on one port would share.
import { createServer } from 'node:net';
import { clearInterval, setInterval } from 'node:timers';
import { reportToParent } from '../test/support/child-receiver.mjs';

const report = reportToParent();

/** What each hostile path does once it has read the request head. */
const HOSTILE = {
  // The body never ends.
  '/endless-body': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n');
    const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
  },
  // Slowloris: the status line and headers, one byte a second, never finished.
  '/slowloris': (socket) => drip(socket, 'HTTP/1.1 200 OK\r\nx-slow: ' + 'a'.repeat(10_000), 1000),
  // A complete head, then the body one byte every 200 ms.
  '/drip-body': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
    drip(socket, 'y'.repeat(100_000), 200);
  },
  // Redirects to itself, forever (a follower would loop).
  '/redirect-loop': (socket) => respond(socket, 302, { location: '/redirect-loop' }),
  // Redirects to the metadata address (a follower would leak).
  '/redirect-metadata': (socket) => respond(socket, 307, { location: 'http://169.254.169.254/latest/meta-data/' }),
  // One header of 1 MB.
  '/huge-header': (socket) => respond(socket, 200, { 'x-huge': 'h'.repeat(1024 * 1024) }),
  // Ten thousand headers.
  '/many-headers': (socket) => {
    const head = Array.from({ length: 10_000 }, (_, n) => `x-h${n}: v`).join('\r\n');
    socket.end(`HTTP/1.1 200 OK\r\n${head}\r\ncontent-length: 0\r\n\r\n`);
  },
  // Accepts, reads, never answers.
  '/hang': () => undefined,
  // Resets the connection.
  '/reset': (socket) => socket.resetAndDestroy(),
  // Closes without a word.
  '/close': (socket) => socket.end(),
  // Not HTTP at all.
  '/garbage': (socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n\u0000\u0001\u0002garbage\r\n\r\n'),
  // Endless 1xx informational answers, never a final one.
  '/endless-1xx': (socket) => {
    const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write('HTTP/1.1 102 Processing\r\n\r\n')), 50);
  },
  // A chunk size line that never ends.
  '/bad-chunk': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
    drip(socket, 'f'.repeat(100_000), 100);
  },
  // 500 with a large body, at once.
  '/fail-big': (socket) => respond(socket, 500, {}, 'e'.repeat(512 * 1024)),
};

export const HOSTILE_PATHS = Object.keys(HOSTILE);

function respond(socket, status, headers, body = '') {
  const lines = Object.entries({ ...headers, 'content-length': Buffer.byteLength(body) }).map(([name, value]) => `${name}: ${value}`);
  socket.end(`HTTP/1.1 ${status} X\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
}

function drip(socket, text, everyMs) {
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || index >= text.length) return clearInterval(timer);
    socket.write(text[index++]);
  }, everyMs);
}

const handle = (socket) => {
  socket.on('error', () => undefined);
  let buffered = Buffer.alloc(0);
  const onData = (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    const headEnd = buffered.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = buffered.subarray(0, headEnd).toString('latin1');
    const [requestLine, ...headerLines] = head.split('\r\n');
    const target = requestLine.split(' ')[1] ?? '/';
    const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (buffered.length < headEnd + 4 + length) return;
    socket.off('data', onData);
    const body = buffered.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    const at = Date.now();
    if (target === '/healthy') {
      // One request per connection: simple, and no pipelining to get wrong.
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      try {
        const parsed = JSON.parse(body);
        report({ id: headers['webhook-id'], at, sentAt: parsed.payload?.sentAt ?? 0 });
      } catch {
        report({ id: 'unparsable', at, sentAt: 0 });
      }
      return;
    }
    (HOSTILE[target] ?? ((s) => respond(s, 404, {})))(socket);
  };
  socket.on('data', onData);
};

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const [healthyPort, hostilePort] = await Promise.all([listen(createServer(handle)), listen(createServer(handle))]);
process.send?.({ healthyPort, hostilePort, paths: HOSTILE_PATHS });
process.on('disconnect', () => process.exit(0));
