import jwt from 'jsonwebtoken';
import { newSigningSecret, SubscriptionView } from '../../../lambdas/core/subscription';
import { signSubscriptionToken } from '../../../lambdas/core/tiledesk-token';

const hook: SubscriptionView = {
  _id: '65a1f0c2e4b0a1b2c3d4e5f6',
  id_project: '65a1f0c2e4b0a1b2c3d4e500',
  event: 'message.create.request.channel.whatsapp',
  target: 'https://connector.example.com/tiledesk/webhook?x=é',
  createdBy: 'u1',
  createdAt: '2026-11-01T10:00:00.000Z',
  updatedAt: '2026-11-02T10:00:00.000Z',
  status: 'active',
};
const AT = new Date('2026-12-01T12:34:56.789Z');

/** How Tiledesk receivers check a webhook's token (e.g. tiledesk-server's own test receivers). */
const verifyAsReceivers = (token: string, secret: string, audienceId = hook._id) =>
  jwt.verify(token, secret, {
    issuer: 'https://tiledesk.com',
    subject: 'subscription',
    audience: `https://tiledesk.com/subscriptions/${audienceId}`,
  });

describe('signSubscriptionToken', () => {
  test("is byte for byte what Tiledesk's jwt.sign(hook, secret, {issuer, subject, audience}) gives", () => {
    const secret = newSigningSecret();
    const tiledesk = jwt.sign({ ...hook, iat: Math.floor(AT.getTime() / 1000) }, secret, {
      issuer: 'https://tiledesk.com',
      subject: 'subscription',
      audience: `https://tiledesk.com/subscriptions/${hook._id}`,
    });
    expect(signSubscriptionToken(hook, secret, AT)).toBe(tiledesk);
  });

  test('verifies with jsonwebtoken as receivers do: HS256, the hook as claims, iat and no exp', () => {
    const secret = newSigningSecret();
    const claims = verifyAsReceivers(signSubscriptionToken(hook, secret, AT), secret);
    expect(claims).toEqual({
      ...hook,
      iat: Math.floor(AT.getTime() / 1000),
      iss: 'https://tiledesk.com',
      sub: 'subscription',
      aud: `https://tiledesk.com/subscriptions/${hook._id}`,
    });
    expect(jwt.decode(signSubscriptionToken(hook, secret, AT), { complete: true })?.header).toEqual({ alg: 'HS256', typ: 'JWT' });
  });

  test('is keyed by the whole whsec_ string, as jsonwebtoken uses a string key', () => {
    const secret = newSigningSecret();
    const token = signSubscriptionToken(hook, secret, AT);
    expect(() => verifyAsReceivers(token, secret.slice('whsec_'.length))).toThrow(/invalid signature/);
    expect(() => verifyAsReceivers(token, Buffer.from(secret.slice('whsec_'.length), 'base64') as unknown as string)).toThrow(
      /invalid signature/,
    );
  });

  test('fails for another secret, another subscription, or a tampered hook', () => {
    const secret = newSigningSecret();
    const token = signSubscriptionToken(hook, secret, AT);
    expect(() => verifyAsReceivers(token, newSigningSecret())).toThrow(/invalid signature/);
    expect(() => verifyAsReceivers(token, secret, 'another-subscription')).toThrow(/audience invalid/);
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...hook, target: 'https://evil.example.com' })).toString('base64url');
    expect(() => verifyAsReceivers(`${header}.${forged}.${signature}`, secret)).toThrow(/invalid signature/);
  });
});
