import { LookupAddress } from 'node:dns';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { parseAllowlist } from '../../../lambdas/core/address-policy';
import { LookupAll, describeRequestError, postWebhook, vettedLookup } from '../../../lambdas/adapters/webhook-client';
import { REDACTED } from '../../../lambdas/core/secret-redaction';
import { UNREACHABLE_TARGET } from '../../../lambdas/core/target-policy';

const loopbackAllowed = parseAllowlist('127.0.0.0/8,::1');
const nothingAllowed = parseAllowlist('');

let server: Server;
let base: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits += 1;
    req.resume();
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/elsewhere' }).end();
    } else if (req.url === '/big') {
      res.writeHead(200).end('x'.repeat(100_000));
    } else if (req.url === '/echo') {
      // A debugging endpoint: answers with the request's headers.
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers }));
    } else if (req.url === '/late') {
      const timer = setTimeout(() => res.writeHead(200).end('late'), 400);
      res.on('close', () => clearTimeout(timer));
    } else if (req.url === '/drip') {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(timer));
    } else {
      res.writeHead(200).end('ok');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

const post = (url: string, allowlist = loopbackAllowed, timeoutMs = 2000) =>
  postWebhook({ url, headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs, maxResponseBytes: 4096, allowlist });

describe('postWebhook', () => {
  test('a private literal address is refused without a connection', async () => {
    const result = await post('http://10.0.0.1/hook', nothingAllowed);
    expect(result).toMatchObject({ errorKind: 'refused' });
    expect(result.statusCode).toBeUndefined();
    // A literal that does reach a server here (loopback, not allowlisted): no request arrives.
    const before = hits;
    expect(await post(`${base}/hook`, nothingAllowed)).toMatchObject({ errorKind: 'refused' });
    expect(hits).toBe(before);
  });

  test('a loopback target is refused unless allowlisted', async () => {
    const before = hits;
    expect(await post(`${base}/hook`, nothingAllowed)).toMatchObject({ errorKind: 'refused' });
    expect(hits).toBe(before);
    expect(await post(`${base}/hook`)).toMatchObject({ statusCode: 200, body: 'ok' });
  });

  test('a host name resolving to loopback is refused at connect time', async () => {
    const port = new URL(base).port;
    const before = hits;
    const result = await post(`http://localhost:${port}/hook`, nothingAllowed);
    expect(result.errorKind).toBe('refused');
    expect(hits).toBe(before);
    // The same name is reached once loopback is allowed, so the refusal was the policy's.
    expect(await post(`http://localhost:${port}/hook`)).toMatchObject({ statusCode: 200 });
    expect(hits).toBe(before + 1);
  });

  test('redirects are not followed: a 3xx is the result', async () => {
    const before = hits;
    const result = await post(`${base}/redirect`);
    expect(result.statusCode).toBe(302);
    expect(hits).toBe(before + 1);
  });

  test('a large body is read only up to the cap', async () => {
    const result = await post(`${base}/big`);
    expect(result.statusCode).toBe(200);
    expect(result.body).toHaveLength(4096);
  });

  test('a slow-drip response still ends at the timeout', async () => {
    // The drip never ends: without a timeout over the whole response the call would not return.
    const result = await post(`${base}/drip`, loopbackAllowed, 500);
    expect(result).toMatchObject({ errorKind: 'timeout', error: expect.stringContaining('500 ms') });
  });

  test('the answer deadline ends a late answer, on a new socket and on a kept-alive one', async () => {
    // A server of its own: its first request connects anew, its second reuses that socket.
    const lateServer = createServer((req, res) => {
      req.resume();
      const delay = req.url === '/late' ? 400 : 0;
      setTimeout(() => res.writeHead(200).end('done'), delay);
    });
    await new Promise<void>((resolve) => lateServer.listen(0, '127.0.0.1', () => resolve()));
    const lateBase = `http://127.0.0.1:${(lateServer.address() as AddressInfo).port}`;
    const connections: unknown[] = [];
    lateServer.on('connection', (socket) => connections.push(socket));
    try {
      const send = (path: string) =>
        postWebhook({ url: `${lateBase}${path}`, headers: {}, body: '{}', timeoutMs: 2000, answerTimeoutMs: 150, maxResponseBytes: 4096, allowlist: loopbackAllowed });
      const first = await send('/late');
      expect(connections).toHaveLength(1);
      expect(await send('/quick')).toMatchObject({ statusCode: 200 });
      const reused = await send('/late');
      expect(connections).toHaveLength(2);
      for (const result of [first, reused]) {
        expect(result).toMatchObject({ errorKind: 'timeout', error: 'no answer within 150 ms of the request' });
        expect(result.durationMs).toBeLessThan(400);
        expect(result.answerMs).toBeGreaterThanOrEqual(145);
      }
    } finally {
      lateServer.closeAllConnections();
      await new Promise<void>((resolve) => lateServer.close(() => resolve()));
    }
    // Without it, the same answer arrives within the whole deadline.
    expect(await post(`${base}/late`)).toMatchObject({ statusCode: 200, body: 'late' });
  });

  test('the answer time is reported apart from the whole duration', async () => {
    const result = await postWebhook({ url: `${base}/late`, headers: {}, body: '{}', timeoutMs: 2000, answerTimeoutMs: 1000, maxResponseBytes: 4096, allowlist: loopbackAllowed });
    expect(result).toMatchObject({ statusCode: 200, body: 'late' });
    expect(result.answerMs).toBeGreaterThanOrEqual(395);
    expect(result.answerMs).toBeLessThanOrEqual(result.durationMs);
    // A request never sent (refused before connecting) has no answer time.
    expect((await post('http://10.0.0.1/hook', nothingAllowed)).answerMs).toBeUndefined();
  });
});

describe('describeRequestError', () => {
  test("an https target served by a plain-HTTP server says so, not OpenSSL's text", async () => {
    // The test server speaks plain HTTP; asking it for TLS is the newcomer's mistake.
    const result = await post(`${base.replace('http:', 'https:')}/hook`);
    expect(result).toMatchObject({ errorKind: 'network', error: expect.stringMatching(/^TLS handshake failed — does the target speak HTTPS\?/) });
    expect(result.error).not.toMatch(/ssl3_get_record|openssl/i);
  });

  test('other errors keep their message', () => {
    expect(describeRequestError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:9');
    const certificate = Object.assign(new Error('E0:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:x.c:2'), { code: 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' });
    expect(describeRequestError(certificate)).toBe('TLS handshake failed: certificate verify failed');
  });
});

describe('vettedLookup (DNS rebinding)', () => {
  /** A resolver that answers a public address first, then a private one. */
  function rebindingResolver(): LookupAll {
    const answers: LookupAddress[][] = [[{ address: '93.184.216.34', family: 4 }], [{ address: '10.0.0.5', family: 4 }]];
    let call = 0;
    return (_host, _options, callback) => callback(null, answers[Math.min(call++, answers.length - 1)]!);
  }

  function resolveWith(lookup: ReturnType<typeof vettedLookup>): Promise<{ error: Error | null; address: unknown }> {
    return new Promise((resolve) => lookup('rebind.example', {}, (error, address) => resolve({ error, address })));
  }

  test('each connection uses the address it vetted; a private answer is refused', async () => {
    const lookup = vettedLookup(nothingAllowed, rebindingResolver());
    expect(await resolveWith(lookup)).toEqual({ error: null, address: '93.184.216.34' });
    const second = await resolveWith(lookup);
    expect(second.error?.message).toBe(`target ${UNREACHABLE_TARGET}`);
  });

  test('one private address among public ones refuses the host', async () => {
    const mixed: LookupAll = (_host, _options, callback) =>
      callback(null, [
        { address: '93.184.216.34', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ]);
    const result = await resolveWith(vettedLookup(nothingAllowed, mixed));
    expect(result.error?.message).toBe(`target ${UNREACHABLE_TARGET}`);
    expect(result.error?.message).not.toMatch(/169\.254/);
  });
});

describe('one refusal for private and unresolvable targets', () => {
  test('a private literal, a private name and a name that does not resolve read the same in the attempt', async () => {
    const literal = await post(`${base}/hook`, nothingAllowed);
    const named = await post(`http://localhost:${new URL(base).port}/hook`, nothingAllowed);
    // .invalid never resolves (RFC 6761), with or without a network.
    const unresolvable = await post('http://no-such-host.invalid/hook', nothingAllowed);
    for (const result of [literal, named, unresolvable]) {
      expect(result).toMatchObject({ error: `target ${UNREACHABLE_TARGET}`, errorKind: 'refused' });
    }
  });
});

describe('stored response bodies', () => {
  const secret = `whsec_${Buffer.alloc(32, 251).toString('base64')}`;
  const previous = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  test("an echoing receiver's body keeps no secret, bearer token or JWT", async () => {
    const result = await postWebhook({
      url: `${base}/echo`,
      headers: {
        'content-type': 'application/json',
        'x-hook-secret': secret,
        'x-previous': previous,
        authorization: 'Bearer abc.def-ghi-jkl',
        'x-tiledesk': 'JWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      },
      body: '{}',
      timeoutMs: 2000,
      maxResponseBytes: 4096,
      allowlist: loopbackAllowed,
    });
    expect(result.statusCode).toBe(200);
    // JSON.stringify leaves `/` as is; a receiver's encoder may write `\/`: both are caught.
    for (const leaked of [secret, previous, secret.replace(/\//g, '\\/'), 'abc.def-ghi-jkl', 'eyJhbGciOiJIUzI1NiJ9']) {
      expect(result.body).not.toContain(leaked);
    }
    expect(JSON.parse(result.body)).toMatchObject({
      headers: { 'x-hook-secret': REDACTED, authorization: `Bearer ${REDACTED}`, 'x-tiledesk': `JWT ${REDACTED}` },
    });
  });
});
