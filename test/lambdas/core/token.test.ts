import { createHmac } from 'node:crypto';
import { UnauthenticatedError } from '../../../lambdas/core/errors';
import {
  Principal,
  canManageProject,
  readAuthorizationHeader,
  signToken,
  verifyToken,
} from '../../../lambdas/core/token';

const SECRET = 'test-secret-of-reasonable-length-0123456789';
const NOW = 1_700_000_000;

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds a token by hand, so tests can produce what `signToken` never would. */
function craftToken(
  header: unknown,
  payload: unknown,
  sign: (unsigned: string) => string = (unsigned) =>
    createHmac('sha256', SECRET).update(unsigned).digest('base64url'),
): string {
  const unsigned = `${segment(header)}.${segment(payload)}`;
  return `${unsigned}.${sign(unsigned)}`;
}

/** Signs raw segments, for payloads that are not even JSON. */
const signedRaw = (header: string, payload: string): string =>
  `${header}.${payload}.${createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url')}`;

const validClaims = { sub: 'user-1', projects: { p1: 'owner' }, iat: NOW, exp: NOW + 3600 };

describe('signToken and verifyToken', () => {
  it('round-trips a project token', () => {
    const token = signToken({ sub: 'user-1', projects: { p1: 'owner', p2: 'agent' } }, SECRET, 3600, NOW);
    expect(verifyToken(token, SECRET, NOW + 1)).toEqual<Principal>({
      userId: 'user-1',
      projects: { p1: 'owner', p2: 'agent' },
      platform: false,
    });
  });

  it('round-trips a platform token, with no projects', () => {
    const token = signToken({ sub: 'tiledesk', platform: true }, SECRET, 3600, NOW);
    expect(verifyToken(token, SECRET, NOW)).toEqual<Principal>({ userId: 'tiledesk', projects: {}, platform: true });
  });

  it('writes an HS256 header and iat/exp from the clock it is given', () => {
    const [header, payload] = signToken({ sub: 'u' }, SECRET, 60, NOW).split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({ sub: 'u', iat: NOW, exp: NOW + 60 });
  });

  it('accepts a token until its exp and refuses it from exp on', () => {
    const token = signToken({ sub: 'user-1' }, SECRET, 60, NOW);
    expect(verifyToken(token, SECRET, NOW + 59).userId).toBe('user-1');
    expect(() => verifyToken(token, SECRET, NOW + 60)).toThrow(new UnauthenticatedError('Token expired'));
    expect(() => verifyToken(token, SECRET, NOW + 86_400)).toThrow(UnauthenticatedError);
  });

  it('refuses a token signed with another secret', () => {
    const token = signToken({ sub: 'user-1' }, 'another-secret', 3600, NOW);
    expect(() => verifyToken(token, SECRET, NOW)).toThrow(new UnauthenticatedError('Invalid token signature'));
  });

  it('accepts a hand-crafted HS256 token, so the refusals below are about what they change', () => {
    expect(verifyToken(craftToken({ alg: 'HS256', typ: 'JWT' }, validClaims), SECRET, NOW).userId).toBe('user-1');
  });

  it('refuses alg none with an empty signature', () => {
    const token = craftToken({ alg: 'none', typ: 'JWT' }, validClaims, () => '');
    expect(token.endsWith('.')).toBe(true);
    expect(() => verifyToken(token, SECRET, NOW)).toThrow(UnauthenticatedError);
  });

  it('refuses alg none even when an HS256 signature is attached', () => {
    expect(() => verifyToken(craftToken({ alg: 'none' }, validClaims), SECRET, NOW)).toThrow(UnauthenticatedError);
  });

  it('refuses an HS512 header, whether signed with HS512 or HS256', () => {
    const hs512 = craftToken({ alg: 'HS512', typ: 'JWT' }, validClaims, (unsigned) =>
      createHmac('sha512', SECRET).update(unsigned).digest('base64url'),
    );
    expect(() => verifyToken(hs512, SECRET, NOW)).toThrow(new UnauthenticatedError('Unsupported token algorithm'));
    expect(() => verifyToken(craftToken({ alg: 'HS512' }, validClaims), SECRET, NOW)).toThrow(UnauthenticatedError);
  });

  it('refuses a crit header: no extension is understood here (RFC 7515 §4.1.11)', () => {
    const token = craftToken({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, validClaims);
    expect(() => verifyToken(token, SECRET, NOW)).toThrow(new UnauthenticatedError('Unsupported token header'));
  });

  describe('with an issuer and an audience configured (JWT_ISSUER, JWT_AUDIENCE)', () => {
    const expected = { issuer: 'https://idp.example.com/', audience: 'tiledesk-webhooks' };
    const withClaims = (extra: object) => craftToken({ alg: 'HS256', typ: 'JWT' }, { ...validClaims, ...extra });

    it('accepts a token carrying both', () => {
      expect(verifyToken(withClaims({ iss: expected.issuer, aud: ['other', expected.audience] }), SECRET, NOW, expected).userId).toBe('user-1');
    });

    it.each([
      ['no iss', { aud: expected.audience }, 'Token issuer not accepted'],
      ['another iss', { iss: 'https://evil.example/', aud: expected.audience }, 'Token issuer not accepted'],
      ['no aud', { iss: expected.issuer }, 'Token audience not accepted'],
      ['another aud', { iss: expected.issuer, aud: 'someone-else' }, 'Token audience not accepted'],
    ])('refuses %s', (_name, extra, message) => {
      expect(() => verifyToken(withClaims(extra), SECRET, NOW, expected)).toThrow(new UnauthenticatedError(message));
    });
  });

  it('refuses a token whose payload was changed after signing', () => {
    const token = signToken({ sub: 'user-1', projects: { p1: 'agent' } }, SECRET, 3600, NOW);
    const [header, , signature] = token.split('.') as [string, string, string];
    const elevated = segment({ sub: 'user-1', projects: { p1: 'owner' }, iat: NOW, exp: NOW + 3600 });
    expect(() => verifyToken(`${header}.${elevated}.${signature}`, SECRET, NOW)).toThrow(
      new UnauthenticatedError('Invalid token signature'),
    );
  });

  it('refuses a correctly signed token without exp', () => {
    const token = craftToken({ alg: 'HS256' }, { sub: 'user-1', projects: { p1: 'owner' } });
    expect(() => verifyToken(token, SECRET, NOW)).toThrow(new UnauthenticatedError('Invalid token claims'));
  });

  it.each([
    ['no sub', { exp: NOW + 60 }],
    ['an empty sub', { sub: '', exp: NOW + 60 }],
    ['a string exp', { sub: 'u', exp: String(NOW + 60) }],
    ['an unknown role', { sub: 'u', exp: NOW + 60, projects: { p1: 'superadmin' } }],
    ['a non-boolean platform', { sub: 'u', exp: NOW + 60, platform: 'yes' }],
    ['a JSON array payload', [{ sub: 'u', exp: NOW + 60 }]],
    ['a JSON null payload', null],
  ])('refuses correctly signed claims with %s', (_label, claims) => {
    expect(() => verifyToken(craftToken({ alg: 'HS256' }, claims), SECRET, NOW)).toThrow(UnauthenticatedError);
  });

  it('keeps platform false when the claim says false', () => {
    const token = craftToken({ alg: 'HS256' }, { sub: 'u', exp: NOW + 60, platform: false });
    expect(verifyToken(token, SECRET, NOW).platform).toBe(false);
  });

  it.each([
    ['an empty string', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['a header that is not JSON', `${Buffer.from('not json').toString('base64url')}.${segment(validClaims)}.sig`],
    ['a payload that is not JSON', signedRaw(segment({ alg: 'HS256' }), Buffer.from('{sub:').toString('base64url'))],
  ])('refuses a malformed token: %s', (_label, token) => {
    expect(() => verifyToken(token, SECRET, NOW)).toThrow(UnauthenticatedError);
  });

  it('refuses a signature truncated or extended by a byte', () => {
    const token = signToken({ sub: 'user-1' }, SECRET, 3600, NOW);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const bytes = Buffer.from(signature, 'base64url');
    const short = bytes.subarray(0, bytes.length - 1).toString('base64url');
    const long = Buffer.concat([bytes, Buffer.from([0])]).toString('base64url');
    expect(() => verifyToken(`${header}.${payload}.${short}`, SECRET, NOW)).toThrow(UnauthenticatedError);
    expect(() => verifyToken(`${header}.${payload}.${long}`, SECRET, NOW)).toThrow(UnauthenticatedError);
  });
});

describe('readAuthorizationHeader', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['JWT abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['  Bearer   abc.def.ghi  ', 'abc.def.ghi'],
  ])('reads the token from %p', (header, token) => {
    expect(readAuthorizationHeader(header)).toBe(token);
  });

  it.each([
    ['a missing header', undefined],
    ['an empty header', ''],
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['a bare token', 'abc.def.ghi'],
    ['a scheme without token', 'Bearer'],
    ['two tokens', 'Bearer abc def'],
  ])('refuses %s', (_label, header) => {
    expect(() => readAuthorizationHeader(header)).toThrow(UnauthenticatedError);
  });
});

describe('canManageProject', () => {
  const member: Principal = { userId: 'u', projects: { p1: 'owner', p2: 'admin', p3: 'agent' }, platform: false };

  it.each([
    ['an owner', 'p1', true],
    ['an admin', 'p2', true],
    ['an agent', 'p3', false],
    ['someone without a role', 'p4', false],
  ])('answers for %s', (_label, projectId, expected) => {
    expect(canManageProject(member, projectId)).toBe(expected);
  });

  it('lets the platform manage any project', () => {
    expect(canManageProject({ userId: 'tiledesk', projects: {}, platform: true }, 'any-project')).toBe(true);
  });

  it('does not take inherited object keys for roles', () => {
    expect(canManageProject({ userId: 'u', projects: {}, platform: false }, 'constructor')).toBe(false);
  });
});
