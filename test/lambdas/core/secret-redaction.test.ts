import { REDACTED, redactSecrets } from '../../../lambdas/core/secret-redaction';

describe('redactSecrets', () => {
  const secret = `whsec_${Buffer.alloc(32, 255).toString('base64')}`;

  it.each([
    ['the secret as sent', `got ${secret}!`, `got ${REDACTED}!`],
    ['the secret with JSON-escaped slashes', `{"s":"${secret.replace(/\//g, '\\/')}"}`, `{"s":"${REDACTED}"}`],
    ['any whsec_ value', 'whsec_AAAA+/== trailing', `${REDACTED} trailing`],
    ['a Bearer value', 'authorization: Bearer abc.def.ghi', `authorization: Bearer ${REDACTED}`],
    ["Tiledesk's JWT scheme", 'JWT eyJh.eyJz.sig', `JWT ${REDACTED}`],
    ['a bare JSON Web Token', '"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"', `"token":"${REDACTED}"`],
  ])('redacts %s', (_what, text, expected) => {
    expect(redactSecrets(text, [secret])).toBe(expected);
  });

  it('redacts a configured secret of any shape, but not short values that would match ordinary words', () => {
    expect(redactSecrets('key=2f1c6a34-5b1e-4a3e; ok', ['2f1c6a34-5b1e-4a3e', 'ok'])).toBe(`key=${REDACTED}; ok`);
  });

  it('leaves ordinary text alone', () => {
    const text = '{"received":true,"note":"bearer of good news","jwt":"no"}';
    expect(redactSecrets(text, [secret])).toBe(text);
  });
});
