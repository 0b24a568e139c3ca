import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { UnauthenticatedError } from '../../../lambdas/core/errors';
import { Jwk, signToken, verifyRs256Token, verifyToken } from '../../../lambdas/core/token';

const SECRET = 'test-secret-of-reasonable-length-0123456789';
const PREVIOUS = 'the-previous-secret-still-in-its-overlap';
const NOW = 1_700_000_000;

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const hmac = (unsigned: string, secret = SECRET): string => createHmac('sha256', secret).update(unsigned).digest('base64url');

/** Signs whatever header and payload text it is given, canonical or not. */
const signedRaw = (header: string, payload: string, secret = SECRET): string =>
  `${header}.${payload}.${hmac(`${header}.${payload}`, secret)}`;

const HEADER = segment({ alg: 'HS256', typ: 'JWT' });
const claims = (extra: object = {}): string => segment({ sub: 'user-1', iat: NOW, exp: NOW + 3600, ...extra });

const malformed = new UnauthenticatedError('Malformed token: segments must be canonical base64url');

describe('HS256 nbf', () => {
  it('accepts a token whose nbf is now, past, or within a minute of clock skew', () => {
    for (const nbf of [NOW - 3600, NOW, NOW + 60]) {
      expect(verifyToken(signedRaw(HEADER, claims({ nbf })), SECRET, NOW).userId).toBe('user-1');
    }
  });

  it('refuses a token before its nbf, beyond a minute of clock skew', () => {
    expect(() => verifyToken(signedRaw(HEADER, claims({ nbf: NOW + 61 })), SECRET, NOW)).toThrow(
      new UnauthenticatedError('Token not yet valid'),
    );
  });

  it('accepts the same token once its nbf has come', () => {
    const token = signedRaw(HEADER, claims({ nbf: NOW + 600 }));
    expect(() => verifyToken(token, SECRET, NOW)).toThrow(UnauthenticatedError);
    expect(verifyToken(token, SECRET, NOW + 600).userId).toBe('user-1');
  });

  it('refuses an nbf that is not a number', () => {
    expect(() => verifyToken(signedRaw(HEADER, claims({ nbf: String(NOW) })), SECRET, NOW)).toThrow(
      new UnauthenticatedError('Invalid token claims'),
    );
  });
});

describe('canonical base64url segments', () => {
  /** A token whose signature holds both `-` and `_`, so both substitutions below change it. */
  const token = (() => {
    for (let i = 0; ; i += 1) {
      const candidate = signedRaw(HEADER, claims({ n: i }));
      const signature = candidate.split('.')[2] ?? '';
      if (signature.includes('-') && signature.includes('_')) return candidate;
    }
  })();
  const [header, payload, signature] = token.split('.') as [string, string, string];

  it('accepts the canonical token, so each refusal below is about its one change', () => {
    expect(verifyToken(token, SECRET, NOW).userId).toBe('user-1');
  });

  it.each([
    ['padding appended', `${signature}=`],
    ['double padding appended', `${signature}==`],
    ['+ for -', signature.replaceAll('-', '+')],
    ['/ for _', signature.replaceAll('_', '/')],
    ['a stray character inside', `${signature.slice(0, 10)}*${signature.slice(10)}`],
    ['a space inside', `${signature.slice(0, 10)} ${signature.slice(10)}`],
    ['a newline at the end', `${signature}\n`],
    ['a non-ASCII letter', `${signature.slice(0, 10)}é${signature.slice(10)}`],
  ])('refuses a signature with %s, which decodes to the same bytes', (_label, spelling) => {
    expect(Buffer.from(spelling, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(true);
    expect(() => verifyToken(`${header}.${payload}.${spelling}`, SECRET, NOW)).toThrow(malformed);
  });

  it('refuses a last character whose unused bits are not zero', () => {
    // 32 bytes take 43 characters: the last one carries 4 bits and 2 unused ones.
    const last = signature.at(-1) ?? '';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] ?? '';
    const spelling = `${signature.slice(0, -1)}${sibling}`;
    expect(Buffer.from(spelling, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(true);
    expect(() => verifyToken(`${header}.${payload}.${spelling}`, SECRET, NOW)).toThrow(malformed);
  });

  it('refuses a signature of 4n+1 characters (45), whose last one Node drops', () => {
    expect(() => verifyToken(`${header}.${payload}.${signature}AA`, SECRET, NOW)).toThrow(malformed);
  });

  it.each([
    ['a padded header', `${HEADER}=`, claims()],
    ['a padded payload', HEADER, `${claims()}=`],
    ['a header with a stray character', `${HEADER.slice(0, 5)}!${HEADER.slice(5)}`, claims()],
    ['a payload with + and /', HEADER, segment({ sub: 'user-1', exp: NOW + 3600, x: '>>>???' }).replaceAll('-', '+').replaceAll('_', '/')],
  ])('refuses %s even when the signature covers that very text', (_label, headerText, payloadText) => {
    expect(() => verifyToken(signedRaw(headerText, payloadText), SECRET, NOW)).toThrow(malformed);
  });

  it('refuses non-canonical RS256 signatures too', () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keys: Jwk[] = [{ ...(pair.publicKey.export({ format: 'jwk' }) as Jwk), kid: 'k', use: 'sig', alg: 'RS256' }];
    const unsigned = `${segment({ alg: 'RS256', kid: 'k' })}.${claims()}`;
    const rsaSignature = sign('sha256', Buffer.from(unsigned), pair.privateKey).toString('base64url');
    expect(verifyRs256Token(`${unsigned}.${rsaSignature}`, keys, {}, NOW).userId).toBe('user-1');
    // 256 bytes take 342 characters plus "==" as standard base64.
    expect(() => verifyRs256Token(`${unsigned}.${rsaSignature}==`, keys, {}, NOW)).toThrow(malformed);
    expect(() => verifyRs256Token(`${unsigned}.${rsaSignature.slice(0, 7)}~${rsaSignature.slice(7)}`, keys, {}, NOW)).toThrow(
      malformed,
    );
  });
});

describe('several accepted secrets (a rotation overlap)', () => {
  it('accepts a token signed by any of them', () => {
    expect(verifyToken(signToken({ sub: 'new' }, SECRET, 60, NOW), [SECRET, PREVIOUS], NOW).userId).toBe('new');
    expect(verifyToken(signToken({ sub: 'old' }, PREVIOUS, 60, NOW), [SECRET, PREVIOUS], NOW).userId).toBe('old');
  });

  it('refuses a token signed by a secret not in the list', () => {
    expect(() => verifyToken(signToken({ sub: 'old' }, PREVIOUS, 60, NOW), [SECRET], NOW)).toThrow(
      new UnauthenticatedError('Invalid token signature'),
    );
  });

  it('refuses every token when no secret is accepted', () => {
    expect(() => verifyToken(signToken({ sub: 'u' }, SECRET, 60, NOW), [], NOW)).toThrow(UnauthenticatedError);
  });
});
