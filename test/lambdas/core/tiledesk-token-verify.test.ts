import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { UnauthenticatedError } from '../../../lambdas/core/errors';
import {
  TiledeskKeys,
  peekIssuer,
  readPublicKey,
  roleFromTiledesk,
  signInWithTiledesk,
  verifyTiledeskToken,
} from '../../../lambdas/core/tiledesk-token';

const SECRET = 'tiledesk-global-secret';
const NOW = 1_800_000_000;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The user document Tiledesk signs in routes/auth.js (password removed). */
const user = { _id: '5ce3d1c7b25ad30017274bc2', email: 'ada@example.com', firstname: 'Ada', lastname: 'L' };

/** A user token exactly as tiledesk-server's routes/auth.js signs one: no exp. */
const userToken = (options: jwt.SignOptions = {}, key: string = SECRET, payload: object = user): string =>
  jwt.sign({ ...payload, iat: NOW - 10 }, key, {
    issuer: 'https://tiledesk.com',
    subject: 'user',
    audience: 'https://tiledesk.com',
    jwtid: 'c5f0c0de-0000-4000-8000-000000000001',
    ...options,
  });

const hs: TiledeskKeys = { secret: SECRET };
const rs: TiledeskKeys = { publicKey: readPublicKey(PUBLIC_PEM) };
const verify = (token: string, keys: TiledeskKeys = hs) => verifyTiledeskToken(token, keys, { subject: 'user' }, NOW);

describe('verifyTiledeskToken', () => {
  test('accepts an HS256 user token with no exp, as Tiledesk issues them', () => {
    expect(verify(userToken())).toMatchObject({ _id: user._id, sub: 'user', iss: 'https://tiledesk.com' });
  });

  test('accepts an RS256 user token with the public key, given with \\n escapes as Tiledesk configures keys', () => {
    const key = readPublicKey(PUBLIC_PEM.replace(/\n/g, '\\n'));
    expect(verify(userToken({ algorithm: 'RS256' }, PRIVATE_PEM), { publicKey: key })._id).toBe(user._id);
  });

  test.each<[string, () => string, TiledeskKeys, string]>([
    ['another secret', () => userToken({}, 'not-the-secret'), hs, 'Invalid token signature'],
    ['another issuer', () => userToken({ issuer: 'https://evil.example' }), hs, 'Token issuer not accepted'],
    ['another audience', () => userToken({ audience: 'https://tiledesk.com/bots/1' }), hs, 'Token audience not accepted'],
    ['a guest token', () => userToken({ subject: 'guest' }), hs, 'Token subject not accepted'],
    ['an expired exp', () => userToken({ expiresIn: -10 }), hs, 'Token expired'],
    ['RS256 when only the HS256 secret is configured', () => userToken({ algorithm: 'RS256' }, PRIVATE_PEM), hs, 'Unsupported token algorithm'],
    ['HS256 keyed with the public key (algorithm confusion)', () => userToken({}, PUBLIC_PEM), rs, 'Unsupported token algorithm'],
    ['alg none', () => userToken({ algorithm: 'none' }, ''), hs, 'Malformed token'],
  ])('refuses %s', (_name, token, keys, message) => {
    expect(() => verify(token(), keys)).toThrow(new UnauthenticatedError(message));
  });

  test('refuses a segment re-encoded in a non-canonical spelling', () => {
    const [header, payload, signature] = userToken().split('.') as [string, string, string];
    expect(() => verify(`${header}.${payload}=.${signature}`)).toThrow(new UnauthenticatedError('Malformed token'));
  });

  test('refuses a short RSA key at configuration time', () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => readPublicKey(short)).toThrow(/2048/);
  });
});

describe('peekIssuer', () => {
  test('reads iss without verifying, and nothing from garbage', () => {
    expect(peekIssuer(userToken({}, 'whatever'))).toBe('https://tiledesk.com');
    expect(peekIssuer('not.a.token')).toBeUndefined();
  });
});

describe('signInWithTiledesk', () => {
  const lookup = (roles: Record<string, string | undefined>) => jest.fn(async (_token: string, projectId: string) => roles[projectId]);

  test.each([
    ['owner', { p1: 'owner' }],
    ['admin', { p1: 'admin' }],
    ['agent', { p1: 'agent' }],
    ['supervisor', { p1: 'agent' }],
    [undefined, {}],
  ])('Tiledesk role %s in the path project becomes projects %j', async (role, projects) => {
    const roles = lookup({ p1: role });
    const token = userToken();
    await expect(signInWithTiledesk(token, 'p1', hs, roles, NOW)).resolves.toEqual({ userId: user._id, projects, platform: false });
    expect(roles).toHaveBeenCalledWith(token, 'p1');
  });

  test('asks nothing of Tiledesk for a route without a project, nor for a refused token', async () => {
    const roles = lookup({});
    await expect(signInWithTiledesk(userToken(), undefined, hs, roles, NOW)).resolves.toEqual({ userId: user._id, projects: {}, platform: false });
    await expect(signInWithTiledesk(userToken({}, 'forged'), 'p1', hs, roles, NOW)).rejects.toThrow(UnauthenticatedError);
    expect(roles).not.toHaveBeenCalled();
  });

  test('refuses a user token without _id', async () => {
    await expect(signInWithTiledesk(userToken({}, SECRET, { email: 'x@example.com' }), 'p1', hs, lookup({}), NOW)).rejects.toThrow(
      /no user id/,
    );
  });
});

describe('roleFromTiledesk', () => {
  test('maps only owner and admin to managing roles', () => {
    expect(['owner', 'admin', 'agent', 'teammate', 'guest', '', undefined].map(roleFromTiledesk)).toEqual([
      'owner',
      'admin',
      'agent',
      'agent',
      'agent',
      undefined,
      undefined,
    ]);
  });
});
