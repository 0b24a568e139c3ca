import { parseAllowlist } from '../../../lambdas/core/address-policy';
import {
  Resolver,
  TARGET_MAX_LENGTH,
  TargetPolicy,
  checkTargetAddress,
  UNREACHABLE_TARGET,
  checkTargetForm,
  normalizeTarget,
} from '../../../lambdas/core/target-policy';

const strict: TargetPolicy = { allowHttp: false, allowlist: parseAllowlist('') };
const withHttp: TargetPolicy = { allowHttp: true, allowlist: parseAllowlist('') };
const localStack: TargetPolicy = { allowHttp: true, allowlist: parseAllowlist('127.0.0.0/8,::1,localhost') };

/** A resolver from a fixed table; unknown names fail like NXDOMAIN. No real DNS in these tests. */
function fakeResolver(table: Record<string, string[]>): jest.Mock<ReturnType<Resolver>, Parameters<Resolver>> {
  return jest.fn<ReturnType<Resolver>, Parameters<Resolver>>(async (host) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  });
}

describe('checkTargetForm', () => {
  it.each([
    ['CR LF in the path', 'https://example.com/a\r\nb'],
    ['a line feed in the host', 'https://exa\nmple.com/'],
    ['a tab', 'https://example.com/\thook'],
    ['a trailing CR LF', 'https://example.com/hook\r\n'],
    ['a NUL', 'https://example.com/\u0000'],
    ['DEL', 'https://example.com/\u007f'],
    ['a C1 control', 'https://example.com/\u0085'],
  ])('refuses a target with %s, which the URL parser would silently drop', (_label, target) => {
    expect(checkTargetForm(target, strict)).toBe('must not contain control characters (CR, LF, tab, …)');
  });

  it('accepts an https URL', () => {
    expect(checkTargetForm('https://hooks.example.com/tiledesk?x=1', strict)).toBeNull();
  });

  it('refuses http unless the deployment allows it', () => {
    expect(checkTargetForm('http://hooks.example.com/', strict)).toMatch(/https/);
    expect(checkTargetForm('http://hooks.example.com/', withHttp)).toBeNull();
  });

  it.each(['ftp://hooks.example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://hooks.example.com/'])(
    'refuses the scheme of %s, even with http allowed',
    (target) => {
      expect(checkTargetForm(target, withHttp)).toBe('must use https or http');
      expect(checkTargetForm(target, strict)).toBe('must use https');
    },
  );

  it.each(['https://user:pass@hooks.example.com/', 'https://user@hooks.example.com/', 'https://:pass@hooks.example.com/'])(
    'refuses credentials in %s',
    (target) => {
      expect(checkTargetForm(target, strict)).toMatch(/credentials/);
    },
  );

  it('accepts exactly the maximum length and refuses one character more', () => {
    const base = 'https://hooks.example.com/';
    const longest = base + 'a'.repeat(TARGET_MAX_LENGTH - base.length);
    expect(TARGET_MAX_LENGTH).toBe(2048);
    expect(checkTargetForm(longest, strict)).toBeNull();
    expect(checkTargetForm(`${longest}a`, strict)).toMatch(/2048/);
  });

  it.each(['', 'not a url', 'hooks.example.com/path', '//hooks.example.com/', 'https://', 'https://[::1/'])(
    'refuses the garbage %p',
    (target) => {
      expect(checkTargetForm(target, strict)).not.toBeNull();
    },
  );
});

describe('checkTargetAddress', () => {
  describe('with literal IP hosts', () => {
    it.each([
      'https://127.0.0.1/',
      'https://127.1/',
      'https://2130706433/',
      'https://0177.0.0.1/',
      'https://0x7f.0.0.1/',
      'https://0x7f000001/',
      'https://127.0.0.1./',
      'https://10.0.0.1/',
      'https://172.16.5.4/',
      'https://192.168.1.1/',
      'https://100.64.0.1/',
      'https://169.254.169.254/latest/meta-data/',
      'https://0.0.0.0/',
      'https://0/',
      'https://[::1]/',
      'https://[::]/',
      'https://[0:0:0:0:0:0:0:1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://[fd00:ec2::254]/',
      'https://[fe80::1]/',
      'https://[fc00::1]/',
      'https://[::ffff:0:7f00:1]/',
      'https://[::ffff:0:127.0.0.1]/',
      'https://[::ffff:0:a9fe:a9fe]/',
      'https://[2001:10::1]/',
      'https://[2001:20::1]/',
      'https://[3fff::1]/',
      'https://[2001:db8::1]/',
      'https://[2001::7f00:1]/',
      'https://[2002:7f00:1::1]/',
      'https://[64:ff9b::7f00:1]/',
      'https://[::127.0.0.1]/',
      'https://[100::1]/',
      'https://224.0.0.1/',
      'https://255.255.255.255/',
      'http://127.0.0.1:8080/hook',
    ])('refuses %s without resolving it', async (target) => {
      const resolve = fakeResolver({});
      expect(checkTargetForm(target, withHttp)).toBeNull();
      await expect(checkTargetAddress(target, strict, resolve)).resolves.toBe(UNREACHABLE_TARGET);
      expect(resolve).not.toHaveBeenCalled();
    });

    it.each(['https://93.184.216.34/', 'https://[2606:4700::1111]/', 'https://1.1.1.1:8443/hook'])(
      'accepts the public %s without resolving it',
      async (target) => {
        const resolve = fakeResolver({});
        await expect(checkTargetAddress(target, strict, resolve)).resolves.toBeNull();
        expect(resolve).not.toHaveBeenCalled();
      },
    );
  });

  describe('with host names', () => {
    const resolve = fakeResolver({
      'public.example.com': ['1.1.1.1'],
      'dual.example.com': ['1.1.1.1', '2606:4700::1111'],
      'internal.example.com': ['10.1.2.3'],
      'metadata.example.com': ['169.254.169.254'],
      'v6-loopback.example.com': ['::1'],
      'mixed.example.com': ['93.184.216.34', '192.168.0.10'],
      'empty.example.com': [],
    });

    it('accepts a host resolving only to public addresses', async () => {
      await expect(checkTargetAddress('https://public.example.com/hook', strict, resolve)).resolves.toBeNull();
      await expect(checkTargetAddress('https://dual.example.com/hook', strict, resolve)).resolves.toBeNull();
      expect(resolve).toHaveBeenCalledWith('public.example.com');
    });

    it('resolves the normalised host name', async () => {
      await expect(checkTargetAddress('https://PUBLIC.Example.COM./hook', strict, resolve)).resolves.toBeNull();
      expect(resolve).toHaveBeenLastCalledWith('public.example.com');
    });

    it.each(['internal.example.com', 'metadata.example.com', 'v6-loopback.example.com'])(
      'refuses %s, which resolves to a private address',
      async (host) => {
        await expect(checkTargetAddress(`https://${host}/`, strict, resolve)).resolves.toBe(UNREACHABLE_TARGET);
      },
    );

    it('refuses a host with one public and one private address', async () => {
      await expect(checkTargetAddress('https://mixed.example.com/', strict, resolve)).resolves.toBe(UNREACHABLE_TARGET);
    });

    it.each(['internal.example.com', 'metadata.example.com', 'v6-loopback.example.com', 'mixed.example.com'])(
      'never names the address %s resolves to (no DNS oracle)',
      async (host) => {
        const problem = await checkTargetAddress(`https://${host}/`, strict, resolve);
        expect(problem).toBe(UNREACHABLE_TARGET);
      },
    );

    it('refuses a host that cannot be resolved in the very words of a private one (no DNS oracle)', async () => {
      const unresolvable = await checkTargetAddress('https://nowhere.example.com/', strict, resolve);
      const noAddress = await checkTargetAddress('https://empty.example.com/', strict, resolve);
      const internal = await checkTargetAddress('https://internal.example.com/', strict, resolve);
      expect(unresolvable).toBe(internal);
      expect(noAddress).toBe(internal);
    });

    it('names the settings that allow a private target', () => {
      expect(UNREACHABLE_TARGET).toMatch(/TARGET_ALLOWLIST .*targetAllowlist context/);
    });
  });

  describe('with an allowlist', () => {
    it.each([
      'http://127.0.0.1:3000/hook',
      'http://127.1:3000/hook',
      'http://[::1]:3000/hook',
      'http://localhost:3000/hook',
      'http://LOCALHOST.:3000/hook',
    ])('accepts %s', async (target) => {
      const resolve = fakeResolver({});
      await expect(checkTargetAddress(target, localStack, resolve)).resolves.toBeNull();
      expect(resolve).not.toHaveBeenCalled();
    });

    it('still refuses what the allowlist does not name', async () => {
      const resolve = fakeResolver({ 'internal.example.com': ['10.1.2.3'], 'loop.example.com': ['127.0.0.1'] });
      await expect(checkTargetAddress('http://10.0.0.1/', localStack, resolve)).resolves.not.toBeNull();
      await expect(checkTargetAddress('http://169.254.169.254/', localStack, resolve)).resolves.not.toBeNull();
      await expect(checkTargetAddress('http://internal.example.com/', localStack, resolve)).resolves.not.toBeNull();
      // An allowlisted range covers whatever name resolves into it.
      await expect(checkTargetAddress('http://loop.example.com/', localStack, resolve)).resolves.toBeNull();
    });
  });
});

describe('normalizeTarget', () => {
  it.each([
    // WHATWG parsing: in http(s) a backslash ends the host, so this goes to pub.example.
    ['http://pub.example\\@127.0.0.1:18080/x', 'http://pub.example/@127.0.0.1:18080/x'],
    ['HTTPS://Example.COM:443/a/../b?q=1#f', 'https://example.com/b?q=1#f'],
    ['http://%68ost.example/', 'http://host.example/'],
    ['http://ｅｘａｍｐｌｅ．ｃｏｍ/', 'http://example.com/'],
    ['http://exam\u00adple.com/', 'http://example.com/'],
    ['http://0x7f.1/', 'http://127.0.0.1/'],
  ])('stores %s as %s', (typed, stored) => {
    expect(normalizeTarget(typed)).toBe(stored);
  });
});
