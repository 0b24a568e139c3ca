/**
 * What a receiver sends back is stored (attempt logs, 30 days) and shown by the API and the
 * console. A receiver that echoes its request (many debugging endpoints do) would put the
 * subscription's secret there: every delivery carries it as `x-hook-secret`, Tiledesk's format.
 * So stored response bodies are redacted before they are kept.
 *
 * Every pattern here runs in time linear in the text: a receiver (or an operator.select hook,
 * whose answer may be 256 KB) chooses the text, so no pattern may backtrack over it.
 */

/** What a redacted secret reads as. */
export const REDACTED = '[redacted]';

/**
 * How an echo may spell the characters of a base64 secret that are not letters or digits: as
 * sent, JSON-escaped (`\/`, or `\u002B` as .NET's encoder writes `+`), or percent-encoded.
 */
const SPELLINGS: Record<string, string> = {
  // Any run of backslashes: a header echoed inside JSON inside JSON escapes it again (`\\\/`).
  '+': String.raw`(?:\+|\\+u002[bB]|%2[bB])`,
  '/': String.raw`(?:\\*\/|\\+u002[fF]|%2[fF])`,
  '=': String.raw`(?:=|\\+u003[dD]|%3[dD])`,
};

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Compiled patterns of the secrets seen lately: compiling one costs ten times the redaction. */
const patterns = new Map<string, RegExp>();
const MAX_PATTERNS = 1000;

/** A pattern matching `secret` however an echo spelled it; one fixed path, so linear. */
function secretPattern(secret: string): RegExp {
  let pattern = patterns.get(secret);
  if (!pattern) {
    if (patterns.size >= MAX_PATTERNS) patterns.clear();
    // `replace` with a global pattern starts from index 0 whatever `lastIndex` says: reusable.
    pattern = new RegExp([...secret].map((character) => SPELLINGS[character] ?? escapeRegExp(character)).join(''), 'g');
    patterns.set(secret, pattern);
  }
  return pattern;
}

/** A base64url run starts here: not in the middle of one (so each run is scanned from one start). */
const RUN_START = '(?<![A-Za-z0-9_-])';

/**
 * Shapes of credentials, redacted whoever's they are: Standard Webhooks secrets (`whsec_` +
 * base64, in any spelling of {@link SPELLINGS}), `Authorization` values (`Bearer …`, Tiledesk's
 * `JWT …`) and bare JSON Web Tokens (the webhook body's `token`, which a receiver verifies).
 */
const SECRET_SHAPES: readonly { shape: RegExp; replacement: string }[] = [
  { shape: new RegExp(String.raw`whsec_(?:[A-Za-z0-9_-]|${Object.values(SPELLINGS).join('|')})+`, 'g'), replacement: REDACTED },
  // Eight characters at least, so prose ("bearer of good news") is left alone.
  { shape: /\b(Bearer|JWT)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replacement: `$1$2${REDACTED}` },
  // Only from the start of a run: `\b` would also start inside `eyJ-eyJ-…`, and each start
  // rescans the rest of the run (quadratic: 12 s for 256 KB of it). So a token glued to a word
  // by a `-` (`x-eyJ…`) is not redacted as a bare JWT; `Bearer`/`JWT` values still are.
  { shape: new RegExp(String.raw`${RUN_START}eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`, 'g'), replacement: REDACTED },
];

/**
 * `text` with every occurrence of `secrets` (as sent, and as a JSON encoder or a URL may escape
 * them) and of anything shaped like a secret replaced by {@link REDACTED}. The scheme word of an
 * Authorization value is kept, so the redacted body still reads as what it was.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) {
    // Short values would redact ordinary words: only secrets of a real length are searched.
    if (secret.length < 8) continue;
    redacted = redacted.replace(secretPattern(secret), REDACTED);
  }
  return SECRET_SHAPES.reduce((current, { shape, replacement }) => current.replace(shape, replacement), redacted);
}
