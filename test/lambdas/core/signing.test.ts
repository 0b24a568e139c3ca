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

  test('the signature is HMAC-SHA256 over id.timestamp.body: the Standard Webhooks specification\'s example', () => {
    // The published known-answer vector (standard-webhooks spec, "Signature scheme" example).
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const signature = signWebhook([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  test('the id, the timestamp and the body each change the signature', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const known = signWebhook([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signWebhook([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJeK', 1614265330, '{"test": 2432232314}')).not.toBe(known);
    expect(signWebhook([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265331, '{"test": 2432232314}')).not.toBe(known);
    expect(signWebhook([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232315}')).not.toBe(known);
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
