import { KeyObject, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { UnauthenticatedError } from '../../../lambdas/core/errors';
import { Jwk, Principal, Role, readTokenHeader, signToken, verifyRs256Token, verifyToken } from '../../../lambdas/core/token';

const NOW = 1_700_000_000;

const rsaPair = (modulusLength = 2048) => generateKeyPairSync('rsa', { modulusLength });
const main = rsaPair();
const other = rsaPair();

const jwkOf = (publicKey: KeyObject, extra: Partial<Jwk> = {}): Jwk => ({
  ...(publicKey.export({ format: 'jwk' }) as Jwk),
  use: 'sig',
  alg: 'RS256',
  kid: 'main',
  ...extra,
});

const KEYS: Jwk[] = [jwkOf(main.publicKey), jwkOf(other.publicKey, { kid: 'other' })];

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs `header.payload` with RS256 (RSASSA-PKCS1-v1_5, SHA-256), or with `signer` when given. */
function craftToken(
  header: unknown,
  payload: unknown,
  signer: (unsigned: string) => string = (unsigned) => sign('sha256', Buffer.from(unsigned), main.privateKey).toString('base64url'),
): string {
  const unsigned = `${segment(header)}.${segment(payload)}`;
  return `${unsigned}.${signer(unsigned)}`;
}

const HEADER = { alg: 'RS256', typ: 'JWT', kid: 'main' };
const CLAIMS = {
  sub: 'idp|user-1',
  iss: 'https://idp.example.com/',
  aud: 'tiledesk-webhooks',
  iat: NOW,
  exp: NOW + 3600,
  projects: { p1: 'admin', p2: 'agent' } as Record<string, Role>,
};

const refusal = (message: string) => new UnauthenticatedError(message);

describe('verifyRs256Token', () => {
  it('returns the same principal as an HS256 token with the same claims', () => {
    const expected: Principal = { userId: 'idp|user-1', projects: { p1: 'admin', p2: 'agent' }, platform: false };
    expect(verifyRs256Token(craftToken(HEADER, CLAIMS), KEYS, {}, NOW)).toEqual(expected);
    expect(verifyToken(signToken({ sub: 'idp|user-1', projects: CLAIMS.projects }, 's', 60, NOW), 's', NOW)).toEqual(expected);
  });

  it('reads a platform token', () => {
    const token = craftToken(HEADER, { sub: 'tiledesk', exp: NOW + 60, platform: true });
    expect(verifyRs256Token(token, KEYS, {}, NOW)).toEqual<Principal>({ userId: 'tiledesk', projects: {}, platform: true });
  });

  it('chooses the key by kid', () => {
    const token = craftToken({ ...HEADER, kid: 'other' }, CLAIMS, (unsigned) =>
      sign('sha256', Buffer.from(unsigned), other.privateKey).toString('base64url'),
    );
    expect(verifyRs256Token(token, KEYS, {}, NOW).userId).toBe('idp|user-1');
    expect(() => verifyRs256Token(craftToken({ ...HEADER, kid: 'other' }, CLAIMS), KEYS, {}, NOW)).toThrow(
      refusal('Invalid token signature'),
    );
  });

  it('accepts keys without use and alg, and keys whose key_ops include verify', () => {
    const bare = { kty: 'RSA', kid: 'main', ...(main.publicKey.export({ format: 'jwk' }) as Jwk) };
    expect(verifyRs256Token(craftToken(HEADER, CLAIMS), [bare], {}, NOW).userId).toBe('idp|user-1');
    expect(verifyRs256Token(craftToken(HEADER, CLAIMS), [jwkOf(main.publicKey, { key_ops: ['verify'] })], {}, NOW).userId).toBe(
      'idp|user-1',
    );
  });

  it('uses the signing key when an encryption key shares its kid', () => {
    const keys = [jwkOf(other.publicKey, { use: 'enc', alg: 'RSA-OAEP' }), jwkOf(main.publicKey)];
    expect(verifyRs256Token(craftToken(HEADER, CLAIMS), keys, {}, NOW).userId).toBe('idp|user-1');
  });

  it('ignores private key members of a key set entry', () => {
    const withPrivate = { ...(other.privateKey.export({ format: 'jwk' }) as Jwk), kid: 'main' };
    expect(() => verifyRs256Token(craftToken(HEADER, CLAIMS), [withPrivate], {}, NOW)).toThrow(refusal('Invalid token signature'));
  });

  describe('refuses the algorithm', () => {
    it('none, with an empty signature', () => {
      const token = craftToken({ alg: 'none', kid: 'main' }, CLAIMS, () => '');
      expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(refusal('Unsupported token algorithm'));
    });

    it('none, with a valid RS256 signature attached', () => {
      expect(() => verifyRs256Token(craftToken({ alg: 'none', kid: 'main' }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Unsupported token algorithm'),
      );
    });

    it.each([
      ['the PEM public key', main.publicKey.export({ format: 'pem', type: 'spki' }).toString()],
      ['the DER public key', main.publicKey.export({ format: 'der', type: 'spki' })],
      ['the JWK modulus', String(jwkOf(main.publicKey).n)],
      ['the JWK as JSON', JSON.stringify(jwkOf(main.publicKey))],
    ])('HS256 keyed with %s (algorithm confusion)', (_label, hmacKey) => {
      const token = craftToken({ alg: 'HS256', kid: 'main' }, CLAIMS, (unsigned) =>
        createHmac('sha256', hmacKey).update(unsigned).digest('base64url'),
      );
      expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(refusal('Unsupported token algorithm'));
    });

    it.each(['RS384', 'RS512', 'PS256', 'ES256', 'rs256', ''])('%p, even signed by the key', (alg) => {
      expect(() => verifyRs256Token(craftToken({ ...HEADER, alg }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Unsupported token algorithm'),
      );
    });

    it('when absent', () => {
      expect(() => verifyRs256Token(craftToken({ kid: 'main' }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Unsupported token algorithm'),
      );
    });
  });

  describe('refuses the key', () => {
    it('when the token names no kid', () => {
      expect(() => verifyRs256Token(craftToken({ alg: 'RS256' }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Token header has no key id (kid)'),
      );
      expect(() => verifyRs256Token(craftToken({ alg: 'RS256', kid: '' }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Token header has no key id (kid)'),
      );
    });

    it('when the kid is unknown to the set, or the set is empty', () => {
      expect(() => verifyRs256Token(craftToken({ ...HEADER, kid: 'rotated-away' }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Unknown token key id'),
      );
      expect(() => verifyRs256Token(craftToken(HEADER, CLAIMS), [], {}, NOW)).toThrow(refusal('Unknown token key id'));
    });

    it('carried by the token itself (jwk, jku headers) instead of taken from the set', () => {
      const attacker = rsaPair();
      const header = { ...HEADER, kid: 'attacker', jwk: jwkOf(attacker.publicKey, { kid: 'attacker' }), jku: 'https://evil.example/jwks' };
      const token = craftToken(header, CLAIMS, (unsigned) =>
        sign('sha256', Buffer.from(unsigned), attacker.privateKey).toString('base64url'),
      );
      expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(refusal('Unknown token key id'));
    });

    it.each<[string, Partial<Jwk>, string]>([
      ['use enc', { use: 'enc' }, 'Token key is not a signing key'],
      ['key_ops without verify', { key_ops: ['encrypt'] }, 'Token key is not a verification key'],
      ['alg RS512', { alg: 'RS512' }, 'Token key is for another algorithm'],
      ['alg HS256', { alg: 'HS256' }, 'Token key is for another algorithm'],
      ['kty EC', { kty: 'EC' }, 'Token key is not an RSA key'],
      ['kty oct', { kty: 'oct' }, 'Token key is not an RSA key'],
      ['no modulus', { n: undefined }, 'Token key is malformed'],
      ['a modulus that decodes to nothing', { n: '!!' }, 'Token key is too short'],
    ])('whose %s', (_label, change, message) => {
      expect(() => verifyRs256Token(craftToken(HEADER, CLAIMS), [jwkOf(main.publicKey, change)], {}, NOW)).toThrow(
        refusal(message),
      );
    });

    it('shorter than 2048 bits', () => {
      const weak = rsaPair(1024);
      const token = craftToken(HEADER, CLAIMS, (unsigned) => sign('sha256', Buffer.from(unsigned), weak.privateKey).toString('base64url'));
      expect(() => verifyRs256Token(token, [jwkOf(weak.publicKey)], {}, NOW)).toThrow(refusal('Token key is too short'));
    });
  });

  describe('refuses the header', () => {
    it('with a crit extension it does not understand', () => {
      const token = craftToken({ ...HEADER, crit: ['exp'] }, CLAIMS);
      expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(refusal('Unsupported token header'));
    });

    it('with a non-string kid', () => {
      expect(() => verifyRs256Token(craftToken({ ...HEADER, kid: 7 }, CLAIMS), KEYS, {}, NOW)).toThrow(
        refusal('Token header has no key id (kid)'),
      );
    });
  });

  describe('refuses the signature', () => {
    it('made by another key than the one the kid names', () => {
      const token = craftToken(HEADER, CLAIMS, (unsigned) => sign('sha256', Buffer.from(unsigned), other.privateKey).toString('base64url'));
      expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(refusal('Invalid token signature'));
    });

    it('over a payload changed after signing', () => {
      const [header, , signature] = craftToken(HEADER, CLAIMS).split('.') as [string, string, string];
      const elevated = segment({ ...CLAIMS, platform: true });
      expect(() => verifyRs256Token(`${header}.${elevated}.${signature}`, KEYS, {}, NOW)).toThrow(refusal('Invalid token signature'));
    });

    it.each([
      ['empty', () => ''],
      ['truncated', (unsigned: string) => sign('sha256', Buffer.from(unsigned), main.privateKey).subarray(1).toString('base64url')],
      ['made with SHA-512', (unsigned: string) => sign('sha512', Buffer.from(unsigned), main.privateKey).toString('base64url')],
    ])('%s', (_label, signer) => {
      expect(() => verifyRs256Token(craftToken(HEADER, CLAIMS, signer), KEYS, {}, NOW)).toThrow(refusal('Invalid token signature'));
    });
  });

  describe('refuses the claims', () => {
    it('at and after exp, accepting until then', () => {
      const token = craftToken(HEADER, { ...CLAIMS, exp: NOW + 60 });
      expect(verifyRs256Token(token, KEYS, {}, NOW + 59).userId).toBe('idp|user-1');
      expect(() => verifyRs256Token(token, KEYS, {}, NOW + 60)).toThrow(refusal('Token expired'));
    });

    it('without exp', () => {
      const { exp: _exp, ...withoutExp } = CLAIMS;
      expect(() => verifyRs256Token(craftToken(HEADER, withoutExp), KEYS, {}, NOW)).toThrow(refusal('Invalid token claims'));
    });

    it.each([
      ['no sub', { exp: NOW + 60 }],
      ['an unknown role', { sub: 'u', exp: NOW + 60, projects: { p1: 'superadmin' } }],
      ['a non-boolean platform', { sub: 'u', exp: NOW + 60, platform: 'true' }],
      ['a numeric aud', { sub: 'u', exp: NOW + 60, aud: 1 }],
      ['a numeric iss', { sub: 'u', exp: NOW + 60, iss: 1 }],
      ['a string nbf', { sub: 'u', exp: NOW + 60, nbf: String(NOW) }],
      ['a null payload', null],
    ])('with %s', (_label, claims) => {
      expect(() => verifyRs256Token(craftToken(HEADER, claims), KEYS, {}, NOW)).toThrow(refusal('Invalid token claims'));
    });

    it('before nbf, beyond a minute of clock skew', () => {
      expect(verifyRs256Token(craftToken(HEADER, { ...CLAIMS, nbf: NOW + 60 }), KEYS, {}, NOW).userId).toBe('idp|user-1');
      expect(() => verifyRs256Token(craftToken(HEADER, { ...CLAIMS, nbf: NOW + 61 }), KEYS, {}, NOW)).toThrow(
        refusal('Token not yet valid'),
      );
    });

    it('from another issuer, or without one, when an issuer is expected', () => {
      const expected = { issuer: 'https://idp.example.com/' };
      expect(verifyRs256Token(craftToken(HEADER, CLAIMS), KEYS, expected, NOW).userId).toBe('idp|user-1');
      const { iss: _iss, ...withoutIss } = CLAIMS;
      for (const claims of [{ ...CLAIMS, iss: 'https://idp.example.com' }, { ...CLAIMS, iss: 'https://evil.example/' }, withoutIss]) {
        expect(() => verifyRs256Token(craftToken(HEADER, claims), KEYS, expected, NOW)).toThrow(refusal('Token issuer not accepted'));
      }
    });

    it('for another audience, or without one, when an audience is expected', () => {
      const expected = { audience: 'tiledesk-webhooks' };
      expect(verifyRs256Token(craftToken(HEADER, CLAIMS), KEYS, expected, NOW).userId).toBe('idp|user-1');
      expect(verifyRs256Token(craftToken(HEADER, { ...CLAIMS, aud: ['crm', 'tiledesk-webhooks'] }), KEYS, expected, NOW).userId).toBe(
        'idp|user-1',
      );
      const { aud: _aud, ...withoutAud } = CLAIMS;
      for (const claims of [{ ...CLAIMS, aud: 'crm' }, { ...CLAIMS, aud: ['crm', 'billing'] }, { ...CLAIMS, aud: [] }, withoutAud]) {
        expect(() => verifyRs256Token(craftToken(HEADER, claims), KEYS, expected, NOW)).toThrow(refusal('Token audience not accepted'));
      }
    });

    it('ignores iss and aud when none is expected', () => {
      const token = craftToken(HEADER, { ...CLAIMS, iss: 'anyone', aud: ['anything'] });
      expect(verifyRs256Token(token, KEYS, {}, NOW).userId).toBe('idp|user-1');
    });
  });

  it.each([
    ['an empty string', ''],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['a header that is not JSON', `${Buffer.from('not json').toString('base64url')}.${segment(CLAIMS)}.sig`],
  ])('refuses a malformed token: %s', (_label, token) => {
    expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(UnauthenticatedError);
  });

  it('refuses an HS256 token of the deployment, which only verifyToken accepts', () => {
    const token = signToken({ sub: 'u' }, 'secret', 60, NOW);
    expect(() => verifyRs256Token(token, KEYS, {}, NOW)).toThrow(refusal('Unsupported token algorithm'));
    expect(() => verifyToken(craftToken(HEADER, CLAIMS), 'secret', NOW)).toThrow(refusal('Unsupported token algorithm'));
  });
});

describe('readTokenHeader', () => {
  it('reads alg and kid without verifying anything', () => {
    expect(readTokenHeader(craftToken(HEADER, CLAIMS))).toEqual({ alg: 'RS256', kid: 'main' });
    expect(readTokenHeader(signToken({ sub: 'u' }, 's'))).toEqual({ alg: 'HS256' });
  });

  it.each([
    ['an empty string', ''],
    ['a header that is not JSON', 'bm90IGpzb24.e30.sig'],
    ['a null header', `${segment(null)}.e30.sig`],
    ['non-string members', `${segment({ alg: 1, kid: {} })}.e30.sig`],
  ])('answers {} for %s', (_label, token) => {
    expect(readTokenHeader(token)).toEqual({});
  });
});
