import { Webhook } from 'standardwebhooks';
import { signWebhook, webhookHeaders } from '../../../lambdas/core/signing';
import { Subscription, newSigningSecret, signingSecrets } from '../../../lambdas/core/subscription';

const body = JSON.stringify({ hook: { _id: 'a' }, timestamp: 1, payload: { id_project: 'p' } });

function headersFor(secrets: string[], at = new Date()): Record<string, string> {
  return webhookHeaders({
    secrets,
    webhookId: 'msg_1',
    timestampSeconds: Math.floor(at.getTime() / 1000),
    body,
    origin: 'https://webhooks.example.com',
  });
}

describe('webhook signing', () => {
  test('standardwebhooks verifies what we sign', () => {
    const secret = newSigningSecret();
    expect(() => new Webhook(secret).verify(body, headersFor([secret]))).not.toThrow();
  });

  test('a tampered body or another secret does not verify', () => {
    const secret = newSigningSecret();
    expect(() => new Webhook(secret).verify(`${body} `, headersFor([secret]))).toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(body, headersFor([secret]))).toThrow();
  });

  test('one v1 entry per secret, each verifiable on its own', () => {
    const [current, previous] = [newSigningSecret(), newSigningSecret()];
    const headers = headersFor([current, previous]);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(headers['x-hook-secret']).toBe(current);
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
  });

  test("Tiledesk's headers: user-agent exactly tiledesk-webhooks, the origin, x-hook-secret", () => {
    const secret = newSigningSecret();
    expect(headersFor([secret])).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'tiledesk-webhooks',
      origin: 'https://webhooks.example.com',
      'x-hook-secret': secret,
    });
  });

  test('the signature is HMAC-SHA256 over id.timestamp.body', () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    expect(signWebhook([secret], 'msg_1', 1700000000, 'x')).toBe(signWebhook([secret], 'msg_1', 1700000000, 'x'));
    expect(signWebhook([secret], 'msg_1', 1700000000, 'x')).not.toBe(signWebhook([secret], 'msg_1', 1700000001, 'x'));
    expect(signWebhook([secret], 'msg_1', 1700000000, 'x')).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });
});

describe('signingSecrets during and after a rotation', () => {
  const rotatedAt = new Date('2026-11-01T00:00:00Z');
  const subscription = {
    secret: 'whsec_new',
    previousSecret: 'whsec_old',
    previousSecretExpiresAt: new Date(rotatedAt.getTime() + 24 * 3600 * 1000).toISOString(),
  } as Subscription;

  test('both secrets within 24 h', () => {
    expect(signingSecrets(subscription, new Date(rotatedAt.getTime() + 23 * 3600 * 1000))).toEqual(['whsec_new', 'whsec_old']);
  });

  test('only the new secret after 24 h', () => {
    expect(signingSecrets(subscription, new Date(rotatedAt.getTime() + 24 * 3600 * 1000 + 1))).toEqual(['whsec_new']);
  });

  test('only the secret when never rotated', () => {
    expect(signingSecrets({ secret: 'whsec_only' } as Subscription, rotatedAt)).toEqual(['whsec_only']);
  });
});
