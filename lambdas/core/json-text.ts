/**
 * `JSON.stringify` for values that came from `JSON.parse`, without recursion. V8's own
 * stringify recurses and overflows the stack near 10,000 levels, while `JSON.parse` (and so
 * EventBridge, SQS and our API) accepts far deeper documents: a payload a client could send
 * must never become an exception halfway through a batch. The output is what `JSON.stringify`
 * gives for such values (same key order, same string escapes), U+FFFE and U+FFFF escaped as
 * well ({@link escapeSqsUnsafe}), so a payload is delivered as it was published and fits in an
 * SQS message.
 */
export function stringifyJson(value: unknown): string {
  return escapeSqsUnsafe(jsonText(value));
}

/**
 * The two characters JSON leaves as they are and SQS refuses in a message body (SQS accepts
 * #x9, #xA, #xD, #x20–#xD7FF, #xE000–#xFFFD and #x10000–#x10FFFF; JSON.stringify escapes the
 * controls and lone surrogates already). A chat visitor can type them.
 */
export const SQS_UNSAFE_CHARACTERS = /[\uFFFE\uFFFF]/;

/**
 * JSON text with U+FFFE and U+FFFF written as `\ufffe` and `\uffff`: the same JSON value, which
 * SQS takes. They can only stand inside strings, where the escape means the character itself.
 */
export function escapeSqsUnsafe(text: string): string {
  return SQS_UNSAFE_CHARACTERS.test(text) ? text.replace(/[\uFFFE\uFFFF]/g, (character) => (character === '\uFFFE' ? '\\ufffe' : '\\uffff')) : text;
}

/** `JSON.stringify`'s text, without recursion for a document too deep for it. */
export function jsonText(value: unknown): string {
  // V8's own is several times faster; only a document too deep for its recursion comes here.
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  return stringifyIteratively(value);
}

function stringifyIteratively(value: unknown): string {
  const out: string[] = [];
  // Work items: a value to write, or a literal piece of punctuation.
  const stack: ({ value: unknown } | { text: string })[] = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const current = item.value;
    if (current === null || typeof current !== 'object') {
      out.push(scalar(current));
      continue;
    }
    if (Array.isArray(current)) {
      stack.push({ text: ']' });
      for (let index = current.length - 1; index >= 0; index--) {
        stack.push({ value: current[index] === undefined ? null : current[index] });
        if (index > 0) stack.push({ text: ',' });
      }
      stack.push({ text: '[' });
      continue;
    }
    const entries = Object.entries(current as Record<string, unknown>).filter(
      ([, entry]) => entry !== undefined && typeof entry !== 'function',
    );
    stack.push({ text: '}' });
    for (let index = entries.length - 1; index >= 0; index--) {
      const [key, entry] = entries[index]!;
      stack.push({ value: entry });
      stack.push({ text: `${JSON.stringify(key)}:` });
      if (index > 0) stack.push({ text: ',' });
    }
    stack.push({ text: '{' });
  }
  return out.join('');
}

function scalar(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  return 'null';
}

/**
 * Deepest nesting of objects and arrays the service takes in (a request body) or passes on (an
 * operator.select hook's answer, which goes back to Tiledesk). Tiledesk's routing payloads nest
 * about ten levels. Our own serialization is stack-safe (`stringifyJson`), but the zod schemas,
 * the SDK's marshalling, the hook's and Tiledesk's own JSON code need not be: a documented
 * bound (DynamoDB's own document limit) keeps such values away from them all.
 */
export const MAX_JSON_DEPTH = 32;

/** How deep a JSON value nests (a scalar is 0), without recursion. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(current as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return deepest;
}
