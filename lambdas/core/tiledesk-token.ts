import { createHmac } from 'node:crypto';
import { SubscriptionView } from './subscription';

/** `iss` of every token Tiledesk signs. */
export const TILEDESK_ISSUER = 'https://tiledesk.com';
/** `sub` of a webhook's token in Tiledesk's `subscriptionNotifier.js`. */
export const SUBSCRIPTION_TOKEN_SUBJECT = 'subscription';

/** `aud` of a webhook's token: the subscription it was sent for. */
export const subscriptionTokenAudience = (subscriptionId: string): string =>
  `https://tiledesk.com/subscriptions/${subscriptionId}`;

const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/**
 * The `token` of a webhook body, byte for byte what Tiledesk's `subscriptionNotifier.js` gets
 * from `jwt.sign(hook, secret, {issuer, subject, audience})` with jsonwebtoken: HS256, header
 * `{"alg":"HS256","typ":"JWT"}`, claims = the hook's fields then `iat`, `aud`, `iss`, `sub`
 * (jsonwebtoken's order), no `exp`. The key is the secret string's UTF-8 bytes, as
 * jsonwebtoken uses a string key — for our `whsec_…` secrets the whole string, prefix
 * included, not the bytes it encodes. Receivers verify it with `jwt.verify` and the secret
 * they were given. Built here with node:crypto so the functions carry no JWT library.
 */
export function signSubscriptionToken(hook: SubscriptionView, secret: string, at: Date): string {
  const claims = {
    ...hook,
    iat: Math.floor(at.getTime() / 1000),
    aud: subscriptionTokenAudience(hook._id),
    iss: TILEDESK_ISSUER,
    sub: SUBSCRIPTION_TOKEN_SUBJECT,
  };
  // JSON.stringify, as jsonwebtoken: the hook is a flat object, so it cannot nest too deep.
  const signingInput = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
  const signature = createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
