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
    // A Standard Webhooks secret's base64 key alone too (libraries strip the prefix and keep it):
    // the prefix optional in the one pattern, so one pass and one cache entry per secret.
    const prefixed = secret.startsWith(SECRET_PREFIX) && secret.length - SECRET_PREFIX.length >= 8;
    const spelled = [...(prefixed ? secret.slice(SECRET_PREFIX.length) : secret)].map((character) => SPELLINGS[character] ?? escapeRegExp(character)).join('');
    pattern = new RegExp(prefixed ? `(?:${SECRET_PREFIX})?${spelled}` : spelled, 'g');
    patterns.set(secret, pattern);
  }
  return pattern;
}

/** A base64url character: what a JSON Web Token's segments are made of. */
function isTokenCharacter(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 45 || code === 95;
}

/** The shortest header a JSON Web Token has: `{"alg":"none"}` is `eyJhbGciOiJub25lIn0`, 19 characters. */
const MIN_HEADER_LENGTH = 19;

/** Where the run of base64url characters starting at `from` ends. */
function runEnd(text: string, from: number): number {
  let end = from;
  while (end < text.length && isTokenCharacter(text.charCodeAt(end))) end++;
  return end;
}

/**
 * Bare JSON Web Tokens redacted, in one pass from each `eyJ` (a token's header starts so): at a
 * run's start or after `-`/`_` (`x-eyJ…`, glued to a word), not inside one (`keyJson`), then a
 * segment, a dot, a non-empty segment, a dot and a segment. A start that reaches no token
 * resumes past what it scanned that no later start could use, so each character is read a few
 * times at most, however hostile the text: linear without a regex. (A regex with `\beyJ…`
 * rescanned the rest of every `eyJ-eyJ-…` run: 12 s for 256 KB; one over whole runs with a
 * callback cost ten times the old one on an echoed delivery, a review found.)
 */
function redactJwts(text: string): string {
  let redacted = '';
  let copied = 0;
  let from = 0;
  for (let at = text.indexOf('eyJ', from); at >= 0; at = text.indexOf('eyJ', from)) {
    const before = at > 0 ? text.charCodeAt(at - 1) : 0;
    const glued = before === 45 || before === 95;
    if (isTokenCharacter(before) && !glued) {
      from = at + 3;
      continue;
    }
    const header = runEnd(text, at + 3);
    if (text.charCodeAt(header) !== 46) {
      // No dot after this run: no `eyJ` inside it can start a token either.
      from = header;
      continue;
    }
    if (glued && header - at < MIN_HEADER_LENGTH) {
      // Glued to a word and shorter than any token's header: a file or image name
      // (`file_eyJ.tar.gz`, `…/_eyJ3IjoxMDB9.v2.png`), not a credential.
      from = header + 1;
      continue;
    }
    const payload = runEnd(text, header + 1);
    if (payload === header + 1 || text.charCodeAt(payload) !== 46) {
      from = header + 1;
      continue;
    }
    const end = runEnd(text, payload + 1);
    redacted += text.slice(copied, at) + REDACTED;
    copied = end;
    from = end;
  }
  return copied === 0 ? text : redacted + text.slice(copied);
}

/**
 * Shapes of credentials, redacted whoever's they are: Standard Webhooks secrets (`whsec_` +
 * base64, in any spelling of {@link SPELLINGS}), `Authorization` values (`Bearer …`, Tiledesk's
 * `JWT …`) and bare JSON Web Tokens (the webhook body's `token`, which a receiver verifies).
 */
const SECRET_SHAPES: readonly { shape: RegExp; replacement: string }[] = [
  { shape: new RegExp(String.raw`whsec_(?:[A-Za-z0-9_-]|${Object.values(SPELLINGS).join('|')})+`, 'g'), replacement: REDACTED },
  // Eight characters at least, so prose ("bearer of good news") is left alone.
  { shape: /\b(Bearer|JWT)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replacement: `$1$2${REDACTED}` },
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
  for (const { shape, replacement } of SECRET_SHAPES) redacted = redacted.replace(shape, replacement);
  // Bare JSON Web Tokens (the webhook body's `token`, which a receiver verifies).
  redacted = redactJwts(redacted);
  return redacted;
}
