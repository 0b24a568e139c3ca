import { jsonDepth, stringifyJson } from '../../../lambdas/core/json-text';

test('writes what JSON.stringify writes for parsed JSON, __proto__ and lone surrogates included', () => {
  const text = '{"b":1,"a":[1,"x",null,true,{"__proto__":{"k":"v"}}],"s":"\\ud800 é 🚀","n":-0.5e-7,"e":{}}';
  const value = JSON.parse(text) as unknown;
  expect(stringifyJson(value)).toBe(JSON.stringify(value));
  expect(stringifyJson(value)).toContain('"__proto__":{"k":"v"}');
});

test('writes a document far deeper than V8’s own recursion allows', () => {
  const depth = 200_000;
  const text = '['.repeat(depth) + ']'.repeat(depth);
  const value = JSON.parse(text) as unknown;
  expect(() => JSON.stringify(value)).toThrow(RangeError);
  expect(stringifyJson(value)).toBe(text);
  expect(jsonDepth(value)).toBe(depth);
});

test('leaves out undefined members and writes null for undefined items and non-finite numbers, as JSON.stringify', () => {
  const value = { a: undefined, b: [undefined, Number.NaN, Infinity], c: 1 };
  expect(stringifyJson(value)).toBe('{"b":[null,null,null],"c":1}');
});

test('escapes U+FFFE and U+FFFF, which SQS refuses in a body, into the same JSON value', () => {
  const value = { text: 'a\uffffb\ufffe', literal: '\\uffff', deep: [[{ x: '\uffff' }]] };
  const text = stringifyJson(value);
  expect(text).not.toMatch(/[\uFFFE\uFFFF]/);
  expect(text).toContain('a\\uffffb\\ufffe');
  expect(JSON.parse(text)).toEqual(value);
});
