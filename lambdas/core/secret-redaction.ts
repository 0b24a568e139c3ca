/**
 * What a receiver sends back is stored (attempt logs, 30 days) and shown by the API and the
 * console. A receiver that echoes its request (many debugging endpoints do) would put the
 * subscription's secret there: every delivery carries it as `x-hook-secret`, Tiledesk's format.
 * So stored response bodies are redacted before they are kept.
 */

/** What a redacted secret reads as. */
export const REDACTED = '[redacted]';

/**
 * Shapes of credentials, redacted whoever's they are: Standard Webhooks secrets (`whsec_` +
 * base64, a JSON encoder's `\/` included), `Authorization` values (`Bearer …`, Tiledesk's
 * `JWT …`) and bare JSON Web Tokens (the webhook body's `token`, which a receiver verifies).
 */
const SECRET_SHAPES: readonly { shape: RegExp; replacement: string }[] = [
  { shape: /whsec_(?:[A-Za-z0-9+=_-]|\\?\/)+/g, replacement: REDACTED },
  // Eight characters at least, so prose ("bearer of good news") is left alone.
  { shape: /\b(Bearer|JWT)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replacement: `$1$2${REDACTED}` },
  { shape: /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, replacement: REDACTED },
];

/**
 * `text` with every occurrence of `secrets` (as sent, and as a JSON encoder may escape them)
 * and of anything shaped like a secret replaced by {@link REDACTED}. The scheme word of an
 * Authorization value is kept, so the redacted body still reads as what it was.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) {
    // Short values would redact ordinary words: only secrets of a real length are searched.
    if (secret.length < 8) continue;
    for (const spelling of new Set([secret, secret.replace(/\//g, '\\/')])) redacted = redacted.split(spelling).join(REDACTED);
  }
  return SECRET_SHAPES.reduce((current, { shape, replacement }) => current.replace(shape, replacement), redacted);
}
