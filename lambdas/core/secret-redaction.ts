/**
 * What a receiver sends back is stored (attempt logs, 30 days) and shown by the API and the
 * console. A receiver that echoes its request (many debugging endpoints do) would put the
 * subscription's secret there: every delivery carries it as `x-hook-secret`, Tiledesk's format.
 * So stored response bodies are redacted before they are kept.
 *
 * Every pattern here runs in time linear in the text: a receiver (or an operator.select hook,
 * whose answer may be 256 KB) chooses the text, so no pattern may backtrack over it.
 */

/** The prefix of a Standard Webhooks secret; the base64 key follows it. */
const SECRET_PREFIX = 'whsec_';

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

/**
 * A run of base64url characters and dots holding `eyJ` (a JSON Web Token's header starts so),
 * scanned from the run's start only: the lookbehind fails at every other position at once, and
 * one start scans its run forward and back once, so the whole pass is linear.
 */
const JWT_RUN = /(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]*eyJ[A-Za-z0-9_.-]*/g;

/**
 * The JSON Web Tokens of one run redacted: from a segment's `eyJ` ({@link tokenStart}), with
 * the two dot-separated segments after it (the second not empty). A token glued to a word
 * (`x-eyJ…`, `a.b.eyJ…`) is found too. One pass over the run's segments.
 */
function redactJwtsInRun(run: string): string {
  const segments = run.split('.');
  const kept: string[] = [];
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    const start = tokenStart(segment);
    if (start >= 0 && index + 2 < segments.length && segments[index + 1] !== '') {
      kept.push(segment.slice(0, start) + REDACTED);
      index += 2;
    } else kept.push(segment);
  }
  return kept.join('.');
}

/** Where a token's header starts in a segment: `eyJ` at its start or after `-`/`_` (not inside `keyJson`); -1 if nowhere. */
function tokenStart(segment: string): number {
  for (let at = segment.indexOf('eyJ'); at >= 0; at = segment.indexOf('eyJ', at + 1)) {
    if (at === 0 || segment[at - 1] === '-' || segment[at - 1] === '_') return at;
  }
  return -1;
}

/**
 * Shapes of credentials, redacted whoever's they are: Standard Webhooks secrets (`whsec_` +
 * base64, in any spelling of {@link SPELLINGS}), `Authorization` values (`Bearer …`, Tiledesk's
 * `JWT …`) and bare JSON Web Tokens (the webhook body's `token`, which a receiver verifies).
 */
const SECRET_SHAPES: readonly { shape: RegExp; replacement: string | ((run: string) => string); only?: string }[] = [
  { shape: new RegExp(String.raw`whsec_(?:[A-Za-z0-9_-]|${Object.values(SPELLINGS).join('|')})+`, 'g'), replacement: REDACTED },
  // Eight characters at least, so prose ("bearer of good news") is left alone.
  { shape: /\b(Bearer|JWT)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replacement: `$1$2${REDACTED}` },
  // Not `\beyJ…` with a backtracking tail: each `\b` inside `eyJ-eyJ-…` rescanned the rest of
  // the run (quadratic: 12 s for 256 KB of it).
  // Its runs are scanned only in a text that holds `eyJ` at all (a literal search): scanning
  // every word's run made redaction 4 times slower on an ordinary 460-byte answer.
  { shape: JWT_RUN, replacement: redactJwtsInRun, only: 'eyJ' },
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
    // Standard Webhooks libraries strip the prefix and keep the base64 key: an echo of it alone too.
    if (secret.startsWith(SECRET_PREFIX) && secret.length - SECRET_PREFIX.length >= 8) {
      redacted = redacted.replace(secretPattern(secret.slice(SECRET_PREFIX.length)), REDACTED);
    }
  }
  for (const { shape, replacement, only } of SECRET_SHAPES) {
    if (only !== undefined && !redacted.includes(only)) continue;
    redacted = typeof replacement === 'string' ? redacted.replace(shape, replacement) : redacted.replace(shape, replacement);
  }
  return redacted;
}
