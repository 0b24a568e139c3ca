import { spawnSync } from 'node:child_process';
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
    ['a JSON Web Token glued to a word by a dash', 'token=x-eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln;', `token=x-${REDACTED};`],
    ['a JSON Web Token after dotted words', 'at a.b.eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln.rest', `at a.b.${REDACTED}.rest`],
    ['an unsigned JSON Web Token (empty signature)', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. end', `${REDACTED} end`],
  ])('redacts %s', (_what, text, expected) => {
    expect(redactSecrets(text, [secret])).toBe(expected);
  });

  it('redacts the base64 key of a whsec_ secret echoed without its prefix, in any spelling', () => {
    const slashy = 'whsec_IfcJSfP4XN7h/DzYDqNDU1+ShSQ3vpsrVhv9z5hkHKo=';
    const key = slashy.slice('whsec_'.length);
    expect(redactSecrets(`{"key":"${key}"}`, [slashy])).toBe(`{"key":"${REDACTED}"}`);
    expect(redactSecrets(`k=${encodeURIComponent(key)}`, [slashy])).toBe(`k=${REDACTED}`);
  });

  it('redacts a configured secret of any shape, but not short values that would match ordinary words', () => {
    expect(redactSecrets('key=2f1c6a34-5b1e-4a3e; ok', ['2f1c6a34-5b1e-4a3e', 'ok'])).toBe(`key=${REDACTED}; ok`);
  });

  it.each([
    ['JSON-escaped as .NET writes it (\\u002B, \\u002F)', (s: string) => JSON.stringify({ s }).replace(/\+/g, '\\u002B').replace(/\//g, '\\u002F')],
    ['percent-encoded', (s: string) => `form=${encodeURIComponent(s)}`],
    ['percent-encoded in lower case', (s: string) => `form=${encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())}`],
    ['JSON inside JSON (\\\\\\/)', (s: string) => JSON.stringify(JSON.stringify({ s: s.replace(/\//g, '\\/') }))],
  ])('redacts the whole secret when the echo spells it %s, known or not', (_how, spell) => {
    const slashy = 'whsec_IfcJSfP4XN7h/DzYDqNDU1+ShSQ3vpsrVhv9z5hkHKo=';
    for (const known of [[slashy], []]) {
      const stored = redactSecrets(spell(slashy), known);
      expect(stored).toContain(REDACTED);
      // Not one run of the secret's body survives (the echo once kept 31 of its 44 characters).
      expect(stored).not.toMatch(/DzYD|ShSQ|hkHKo/);
    }
  });

  it.each([
    ['eyJ- repeated (a JWT start that never reaches its dot)', 'eyJ-'],
    ['dots between JWT starts', '.eyJ'],
    ['dashes and dots around JWT starts', 'x-eyJ.'],
    ['JWT starts inside a word', 'keyJ'],
    ['whsec_ repeated', 'whsec_'],
    ['escaped characters of a whsec_ value', 'whsec_%2B\\u002F'],
    ['backslash runs in a whsec_ value', 'whsec_\\\\\\\\x'],
    ['Bearer repeated', 'Bearer '],
  ])('ends on a megabyte of %s (no pattern backtracks over its run)', (_what, unit) => {
    // A backtracking pattern took 12 s on 256 KB of `eyJ-` (quadratic: minutes on a megabyte);
    // linear, a megabyte takes milliseconds. A regex cannot be interrupted, so it runs in a child
    // process that is stopped if it hangs: a liveness check with a wide margin, not a speed target.
    const script = `
      const { redactSecrets } = require(${JSON.stringify(require.resolve('../../../lambdas/core/secret-redaction'))});
      const text = ${JSON.stringify(unit)}.repeat(Math.ceil(1048576 / ${unit.length}));
      process.stdout.write(String(redactSecrets(text, ['whsec_IfcJSfP4XN7h/DzYDqNDU1+ShSQ3vpsrVhv9z5hkHKo=']).length > 0));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--eval', script], { encoding: 'utf8', timeout: 60_000 });
    expect({ signal: child.signal, stdout: child.stdout, stderr: child.stderr }).toEqual({ signal: null, stdout: 'true', stderr: '' });
  }, 70_000);

  it('leaves ordinary text alone', () => {
    const text = '{"received":true,"note":"bearer of good news","jwt":"no","path":"a.keyJson.b.c","empty":"eyJ..x","file":"file_eyJ.tar.gz","img":"/i/_eyJ3IjoxMDB9.v2.png"}';
    expect(redactSecrets(text, [secret])).toBe(text);
  });
});
