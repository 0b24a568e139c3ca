import { KeyObject, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { JwksFetchError, checkJwksUrl, createJwksSource } from '../../../lambdas/adapters/jwks';
import { Jwk, signToken } from '../../../lambdas/core/token';

const first = generateKeyPairSync('rsa', { modulusLength: 2048 });
const second = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwkOf = (publicKey: KeyObject, kid: string): Jwk => ({
  ...(publicKey.export({ format: 'jwk' }) as Jwk),
  kid,
  use: 'sig',
  alg: 'RS256',
});

/** What `/jwks` serves now; tests rotate it. */
let served: { status: number; body: string };
const serve = (...keys: Jwk[]): void => {
  served = { status: 200, body: JSON.stringify({ keys }) };
};
let jwksHits = 0;

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    if (req.url === '/jwks') {
      jwksHits += 1;
      res.writeHead(served.status, { 'content-type': 'application/json' }).end(served.body);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: '/jwks' }).end();
    } else if (req.url === '/chunked-big') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '.repeat(1024)), 5);
      res.on('close', () => clearInterval(timer));
    } else if (req.url === '/slow') {
      const timer = setTimeout(() => res.writeHead(200).end('{"keys":[]}'), 5000);
      res.on('close', () => clearTimeout(timer));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  serve(jwkOf(first.publicKey, 'k1'));
  jwksHits = 0;
});

/** A source on `/jwks` with a clock the test moves. */
function sourceWithClock(options: { ttlMs?: number; minRefetchIntervalMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const source = createJwksSource(`${base}/jwks`, { ...options, now: () => clock.now });
  return { source, clock };
}

const kids = (keys: readonly Jwk[]): (string | undefined)[] => keys.map((key) => key.kid);

describe('createJwksSource', () => {
  it('fetches the key set once and serves it from the cache until the TTL ends', async () => {
    const { source, clock } = sourceWithClock({ ttlMs: 600_000 });
    expect(kids(await source.keysFor('k1'))).toEqual(['k1']);
    clock.now += 599_999;
    expect(kids(await source.keysFor('k1'))).toEqual(['k1']);
    expect(jwksHits).toBe(1);

    serve(jwkOf(second.publicKey, 'k2'));
    clock.now += 1;
    expect(kids(await source.keysFor('k1'))).toEqual(['k2']);
    expect(jwksHits).toBe(2);
  });

  it('keeps the JWK members verification needs', async () => {
    const { source } = sourceWithClock();
    const [key] = await source.keysFor('k1');
    expect(key).toEqual(jwkOf(first.publicKey, 'k1'));
  });

  it('lets concurrent callers share one fetch', async () => {
    const { source } = sourceWithClock();
    const sets = await Promise.all([source.keysFor('k1'), source.keysFor('k1'), source.keysFor('k1')]);
    expect(sets.map(kids)).toEqual([['k1'], ['k1'], ['k1']]);
    expect(jwksHits).toBe(1);
  });

  it('fetches again once for an unknown kid, picking up a rotated key', async () => {
    const { source } = sourceWithClock();
    await source.keysFor('k1');
    serve(jwkOf(first.publicKey, 'k1'), jwkOf(second.publicKey, 'k2'));
    expect(kids(await source.keysFor('k2'))).toEqual(['k1', 'k2']);
    expect(kids(await source.keysFor('k2'))).toEqual(['k1', 'k2']);
    expect(jwksHits).toBe(2);
  });

  it('fetches for unknown kids at most once per interval', async () => {
    const { source, clock } = sourceWithClock({ minRefetchIntervalMs: 30_000 });
    await source.keysFor('k1');
    for (const kid of ['made-up-1', 'made-up-2', 'made-up-3']) expect(kids(await source.keysFor(kid))).toEqual(['k1']);
    expect(jwksHits).toBe(2);

    serve(jwkOf(second.publicKey, 'k2'));
    clock.now += 29_999;
    expect(kids(await source.keysFor('k2'))).toEqual(['k1']);
    expect(jwksHits).toBe(2);
    clock.now += 1;
    expect(kids(await source.keysFor('k2'))).toEqual(['k2']);
    expect(jwksHits).toBe(3);
  });

  it('does not keep a failed fetch: the next call fetches again', async () => {
    const { source } = sourceWithClock();
    served = { status: 503, body: 'down' };
    await expect(source.keysFor('k1')).rejects.toThrow(new JwksFetchError('JWKS fetch answered 503'));
    await expect(source.keysFor('k1')).rejects.toThrow(JwksFetchError);
    serve(jwkOf(first.publicKey, 'k1'));
    expect(kids(await source.keysFor('k1'))).toEqual(['k1']);
    expect(jwksHits).toBe(3);
  });

  it('keeps the cached set when a fetch for an unknown kid fails, and counts it for the interval', async () => {
    const { source, clock } = sourceWithClock({ minRefetchIntervalMs: 30_000 });
    await source.keysFor('k1');
    served = { status: 500, body: '' };
    await expect(source.keysFor('k2')).rejects.toThrow(JwksFetchError);
    expect(kids(await source.keysFor('k2'))).toEqual(['k1']);
    expect(kids(await source.keysFor('k1'))).toEqual(['k1']);
    expect(jwksHits).toBe(2);
    serve(jwkOf(second.publicKey, 'k2'));
    clock.now += 30_000;
    expect(kids(await source.keysFor('k2'))).toEqual(['k2']);
  });

  it.each([
    ['not JSON', 'not json', 'JWKS is not JSON'],
    ['no keys array', '{"keys":{}}', 'JWKS has no keys array of key objects'],
    ['keys that are not objects', '{"keys":["abc"]}', 'JWKS has no keys array of key objects'],
    ['a key with a non-string kid', '{"keys":[{"kty":"RSA","kid":1}]}', 'JWKS has no keys array of key objects'],
  ])('refuses a body with %s', async (_label, body, message) => {
    served = { status: 200, body };
    await expect(sourceWithClock().source.keysFor('k1')).rejects.toThrow(new JwksFetchError(message));
  });

  it('refuses a key set larger than the cap, declared or streamed', async () => {
    served = { status: 200, body: JSON.stringify({ keys: [jwkOf(first.publicKey, 'k1')], padding: 'x'.repeat(5000) }) };
    const declared = createJwksSource(`${base}/jwks`, { maxBytes: 4096 });
    await expect(declared.keysFor('k1')).rejects.toThrow(new JwksFetchError('JWKS is larger than 4096 bytes'));
    const streamed = createJwksSource(`${base}/chunked-big`, { maxBytes: 64 * 1024 });
    await expect(streamed.keysFor('k1')).rejects.toThrow(new JwksFetchError('JWKS is larger than 65536 bytes'));
  });

  it('gives up after the timeout', async () => {
    // The server answers only after 5 s: the refusal names the timeout, not an answer.
    await expect(createJwksSource(`${base}/slow`, { timeoutMs: 200 }).keysFor('k1')).rejects.toThrow(
      new JwksFetchError('JWKS fetch timed out after 200 ms'),
    );
  });

  it('does not follow redirects', async () => {
    await expect(createJwksSource(`${base}/redirect`).keysFor('k1')).rejects.toThrow(JwksFetchError);
    expect(jwksHits).toBe(0);
  });

  it('reports a refused connection as a fetch failure', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(createJwksSource(`http://127.0.0.1:${port}/jwks`).keysFor('k1')).rejects.toThrow(/^JWKS fetch failed/);
  });
});

describe('checkJwksUrl', () => {
  it.each(['https://idp.example.com/.well-known/jwks.json', 'http://127.0.0.1:8080/jwks', 'http://localhost/jwks', 'http://[::1]:9/jwks'])(
    'accepts %s',
    (url) => {
      expect(checkJwksUrl(url).href).toBe(new URL(url).href);
    },
  );

  it.each([
    'http://idp.example.com/jwks',
    'http://169.254.169.254/latest',
    'http://localhost.evil.example/jwks',
    'ftp://idp.example.com/jwks',
    'file:///etc/passwd',
    'not a url',
  ])('refuses %s', (url) => {
    expect(() => checkJwksUrl(url)).toThrow(/^JWKS URL/);
    expect(() => createJwksSource(url)).toThrow(/^JWKS URL/);
  });
});

describe('the authorizer with JWKS_URL set', () => {
  const SECRET = 'authorizer-test-secret';
  const ISSUER = 'https://idp.example.com/';
  const AUDIENCE = 'tiledesk-webhooks';
  const VARIABLES = ['JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_SECRET', 'JWT_SECRET_ARN', 'POWERTOOLS_LOG_LEVEL'] as const;
  const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  let authorize: typeof import('../../../lambdas/handlers/authorizer').authorize;

  beforeAll(async () => {
    Object.assign(process.env, {
      JWKS_URL: `${base}/jwks`,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_SECRET: SECRET,
      // The refusals are asserted through the answers; their log lines would only clutter the run.
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    delete process.env.JWT_SECRET_ARN;
    // A fresh module: the authorizer reads its environment once, when loaded.
    await jest.isolateModulesAsync(async () => {
      ({ authorize } = await import('../../../lambdas/handlers/authorizer'));
    });
  });

  afterAll(() => {
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  const call = (token: string) =>
    authorize({ headers: { authorization: `Bearer ${token}` } } as unknown as APIGatewayRequestAuthorizerEventV2);

  const now = () => Math.floor(Date.now() / 1000);
  const idpToken = (claims: object, kid = 'k1', privateKey = first.privateKey): string => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'RS256', typ: 'JWT', kid })}.${encode({ sub: 'idp|u1', iss: ISSUER, aud: AUDIENCE, exp: now() + 60, ...claims })}`;
    return `${unsigned}.${sign('sha256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
  };

  it('accepts an RS256 token of the identity provider', async () => {
    await expect(call(idpToken({ projects: { p1: 'owner' } }))).resolves.toEqual({
      isAuthorized: true,
      context: { authenticated: true, userId: 'idp|u1', projects: '{"p1":"owner"}', platform: false, reason: '' },
    });
  });

  it('still accepts an HS256 token of the generated secret, as npm run token mints them with JWT_ISSUER and JWT_AUDIENCE set', async () => {
    const result = await call(signToken({ sub: 'cli-user', platform: true, iss: ISSUER, aud: AUDIENCE }, SECRET));
    expect(result.context).toMatchObject({ authenticated: true, userId: 'cli-user', platform: true });
  });

  it('holds HS256 tokens to the configured issuer and audience too', async () => {
    const withoutIssuer = await call(signToken({ sub: 'cli-user', platform: true, aud: AUDIENCE }, SECRET));
    expect(withoutIssuer.context).toMatchObject({ authenticated: false, reason: 'Token issuer not accepted' });
    const otherAudience = await call(signToken({ sub: 'cli-user', platform: true, iss: ISSUER, aud: 'elsewhere' }, SECRET));
    expect(otherAudience.context).toMatchObject({ authenticated: false, reason: 'Token audience not accepted' });
  });

  it('picks up a key the identity provider rotated in', async () => {
    serve(jwkOf(first.publicKey, 'k1'), jwkOf(second.publicKey, 'k2'));
    const result = await call(idpToken({}, 'k2', second.privateKey));
    expect(result.context).toMatchObject({ authenticated: true, userId: 'idp|u1' });
  });

  it.each<[string, () => string, string]>([
    ['of another issuer', () => idpToken({ iss: 'https://evil.example/' }), 'Token issuer not accepted'],
    ['for another audience', () => idpToken({ aud: ['crm'] }), 'Token audience not accepted'],
    ['signed by a key not in the set', () => idpToken({}, 'k1', second.privateKey), 'Invalid token signature'],
    ['expired', () => idpToken({ exp: now() - 1 }), 'Token expired'],
    ['without kid', () => idpToken({}, ''), 'Token header has no key id (kid)'],
  ])('refuses an RS256 token %s', async (_label, token, reason) => {
    const result = await call(token());
    expect(result.context).toMatchObject({ authenticated: false, reason });
  });

  it('refuses an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const pem = first.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${encode({ sub: 'x', exp: now() + 60, platform: true })}`;
    const forged = `${unsigned}.${createHmac('sha256', pem).update(unsigned).digest('base64url')}`;
    const result = await call(forged);
    expect(result.context).toMatchObject({ authenticated: false, reason: 'Invalid token signature' });
  });

  it('refuses alg none', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const result = await call(`${encode({ alg: 'none', kid: 'k1' })}.${encode({ sub: 'x', exp: now() + 60, platform: true })}.`);
    expect(result.context).toMatchObject({ authenticated: false, reason: 'Unsupported token algorithm' });
  });
});
