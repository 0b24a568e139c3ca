import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** Tiledesk's webhooks say exactly this; receivers written for Tiledesk may check it. */
export const WEBHOOK_USER_AGENT = 'tiledesk-webhooks';

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

/**
 * The headers of a signed webhook (DESIGN §4): Tiledesk's own (`user-agent`, `origin`,
 * `x-hook-secret`) beside the Standard Webhooks ones.
 */
export function webhookHeaders(options: {
  secrets: readonly string[];
  webhookId: string;
  timestampSeconds: number;
  body: string;
  /** Tiledesk's WEBHOOK_ORIGIN: where the webhooks come from. */
  origin: string;
}): Record<string, string> {
  const [current] = options.secrets;
  return {
    'content-type': 'application/json',
    'user-agent': WEBHOOK_USER_AGENT,
    origin: options.origin,
    'x-hook-secret': current ?? '',
    'webhook-id': options.webhookId,
    'webhook-timestamp': String(options.timestampSeconds),
    'webhook-signature': signWebhook(options.secrets, options.webhookId, options.timestampSeconds, options.body),
  };
}
