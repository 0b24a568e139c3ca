import { LookupAddress } from 'node:dns';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { parseAllowlist } from '../../../lambdas/core/address-policy';
import { LookupAll, describeRequestError, postWebhook, vettedLookup } from '../../../lambdas/adapters/webhook-client';

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
    expect(second.error?.message).toBe('rebind.example resolves to a private or reserved address');
  });

  test('one private address among public ones refuses the host', async () => {
    const mixed: LookupAll = (_host, _options, callback) =>
      callback(null, [
        { address: '93.184.216.34', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ]);
    const result = await resolveWith(vettedLookup(nothingAllowed, mixed));
    expect(result.error?.message).toBe('rebind.example resolves to a private or reserved address');
    expect(result.error?.message).not.toMatch(/169\.254/);
  });
});
