import { isAllowedSource, parseSourceAllowlist, sourceLimitKey } from '../../../lambdas/core/ingest-source';

describe('the ingest source allowlist', () => {
  const allowlist = parseSourceAllowlist('203.0.113.0/24, 2001:db8::/32');

  it('is off when unset', () => {
    expect(parseSourceAllowlist(undefined)).toBeUndefined();
    expect(isAllowedSource('198.51.100.7', undefined)).toBe(true);
  });

  it.each([
    ['203.0.113.9', true],
    ['::ffff:203.0.113.9', true],
    ['203.0.114.1', false],
    ['2001:db8::1', true],
    ['2001:db9::1', false],
    ['not-an-address', false],
  ])('%s allowed: %s', (address, allowed) => {
    expect(isAllowedSource(address, allowlist)).toBe(allowed);
  });

  it('refuses host names: a source is an address', () => {
    expect(() => parseSourceAllowlist('tiledesk.example.com')).toThrow(/CIDRs or addresses/);
  });
});

describe('sourceLimitKey', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
  ])('%s → %s', (address, key) => {
    expect(sourceLimitKey(address)).toBe(key);
  });
});
