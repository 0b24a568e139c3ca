import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** The HMAC key of a `whsec_` secret: the bytes its base64 part encodes. */
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/**
 * The Standard Webhooks `webhook-signature` value: one `v1,<base64 HMAC-SHA256>` entry per
 * secret over `{id}.{timestamp}.{body}`, space-separated (several during a secret rotation).
 */
export function signWebhook(secrets: readonly string[], webhookId: string, timestampSeconds: number, body: string): string {
  const signed = `${webhookId}.${timestampSeconds}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(signed).digest('base64')}`).join(' ');
}

/** The headers of a signed webhook (DESIGN §4). */
export function webhookHeaders(options: {
  secrets: readonly string[];
  webhookId: string;
  timestampSeconds: number;
  body: string;
  userAgent: string;
}): Record<string, string> {
  const [current] = options.secrets;
  return {
    'content-type': 'application/json',
    'user-agent': options.userAgent,
    'x-hook-secret': current ?? '',
    'webhook-id': options.webhookId,
    'webhook-timestamp': String(options.timestampSeconds),
    'webhook-signature': signWebhook(options.secrets, options.webhookId, options.timestampSeconds, options.body),
  };
}
