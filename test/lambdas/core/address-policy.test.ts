import { isDeniedAddress, normalizeHost, parseAllowlist } from '../../../lambdas/core/address-policy';

const noAllowlist = parseAllowlist('');

describe('isDeniedAddress without an allowlist', () => {
  it.each([
    ['loopback', '127.0.0.1'],
    ['loopback, top of range', '127.255.255.254'],
    ['private 10/8', '10.0.0.1'],
    ['private 172.16/12', '172.16.5.4'],
    ['private 172.16/12, top of range', '172.31.255.255'],
    ['private 192.168/16', '192.168.1.1'],
    ['CGNAT', '100.64.0.1'],
    ['CGNAT, top of range', '100.127.255.255'],
    ['link-local metadata', '169.254.169.254'],
    ['unspecified', '0.0.0.0'],
    ['multicast', '224.0.0.1'],
    ['broadcast', '255.255.255.255'],
    ['benchmarking', '198.18.0.1'],
    ['IPv6 loopback', '::1'],
    ['IPv6 unspecified', '::'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped loopback, hex form', '::ffff:7f00:1'],
    ['IPv4-mapped private', '::ffff:10.0.0.1'],
    ['IPv4-mapped public (still an IPv4 address in disguise)', '::ffff:8.8.8.8'],
    ['IPv4-compatible loopback', '::127.0.0.1'],
    ['NAT64 of loopback', '64:ff9b::7f00:1'],
    ['6to4', '2002:7f00:1::1'],
    ['EC2 IPv6 metadata', 'fd00:ec2::254'],
    ['unique local', 'fc00::1'],
    ['link-local', 'fe80::1'],
    ['IPv6 multicast', 'ff02::1'],
    ['SIIT IPv4-translated loopback (::ffff:0:0:0/96)', '::ffff:0:7f00:1'],
    ['SIIT IPv4-translated, dotted form', '::ffff:0:127.0.0.1'],
    ['SIIT IPv4-translated public address (still IPv4 in disguise)', '::ffff:0:808:808'],
    ['ORCHID (2001:10::/28)', '2001:10::1'],
    ['ORCHIDv2 (2001:20::/28)', '2001:20::1'],
    ['ORCHIDv2, top of range', '2001:2f:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['documentation (3fff::/20)', '3fff::1'],
    ['documentation (3fff::/20), top of range', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['documentation (2001:db8::/32)', '2001:db8::1'],
    ['Teredo', '2001::7f00:1'],
    ['IETF protocol assignments, benchmarking', '2001:2::1'],
    ['SRv6 SIDs', '5f00::1'],
    ['discard-only', '100::1'],
    ['dummy prefix (100:0:0:1::/64)', '100:0:0:1::1'],
    ['local-use NAT64', '64:ff9b:1::a00:1'],
    ['NAT64 of a public address (IPv4 in disguise)', '64:ff9b::808:808'],
    ['site-local', 'fec0::1'],
    ['outside 2000::/3 below it', '1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['outside 2000::/3 above it', '4000::1'],
    ['an unassigned prefix outside 2000::/3', '8000::1'],
    ['IPv4-compatible, hex form', '::7f00:1'],
    ['not an IP literal at all', 'example.com'],
  ])('denies %s (%s)', (_label, address) => {
    expect(isDeniedAddress(address, noAllowlist)).toBe(true);
  });

  it.each([
    ['a public IPv4', '93.184.216.34'],
    ['Cloudflare DNS', '1.1.1.1'],
    ['just below 10/8', '9.255.255.255'],
    ['just above 172.16/12', '172.32.0.1'],
    ['just above CGNAT', '100.128.0.1'],
    ['just below 127/8', '126.255.255.255'],
    ['a public IPv6', '2606:4700::1111'],
    ['another public IPv6', '2a00:1450:4001:80b::200e'],
    ['the bottom of 2000::/3 outside the special ranges', '2000::1'],
    ['the top of 2000::/3', '3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['just above 3fff::/20', '3fff:1000::1'],
    ['just above 2001::/23', '2001:200::1'],
    ['just below 2001:db8::/32', '2001:db7:ffff::1'],
  ])('allows %s (%s)', (_label, address) => {
    expect(isDeniedAddress(address, noAllowlist)).toBe(false);
  });
});

describe('parseAllowlist', () => {
  const allowlist = parseAllowlist('127.0.0.0/8,::1,localhost');

  it('exempts the listed ranges and addresses', () => {
    expect(isDeniedAddress('127.0.0.1', allowlist)).toBe(false);
    expect(isDeniedAddress('127.10.20.30', allowlist)).toBe(false);
    expect(isDeniedAddress('::1', allowlist)).toBe(false);
  });

  it('keeps refusing everything else that is private', () => {
    expect(isDeniedAddress('10.0.0.1', allowlist)).toBe(true);
    expect(isDeniedAddress('169.254.169.254', allowlist)).toBe(true);
    expect(isDeniedAddress('::', allowlist)).toBe(true);
    expect(isDeniedAddress('fe80::1', allowlist)).toBe(true);
  });

  it('collects host names, not IP literals, as hosts', () => {
    expect([...allowlist.hosts]).toEqual(['localhost']);
  });

  it('trims, lower-cases and drops trailing dots of entries', () => {
    const messy = parseAllowlist(' LocalHost. , 10.1.2.3 ,, Hooks.Example.com ');
    expect([...messy.hosts].sort()).toEqual(['hooks.example.com', 'localhost']);
    expect(isDeniedAddress('10.1.2.3', messy)).toBe(false);
    expect(isDeniedAddress('10.1.2.4', messy)).toBe(true);
  });

  it.each([undefined, '', ' , '])('is empty for %p', (spec) => {
    const empty = parseAllowlist(spec);
    expect(empty.hosts.size).toBe(0);
    expect(isDeniedAddress('127.0.0.1', empty)).toBe(true);
    expect(isDeniedAddress('::1', empty)).toBe(true);
  });
});

describe('normalizeHost', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['LOCALHOST.', 'localhost'],
    ['localhost..', 'localhost'],
    ['[::1]', '::1'],
    ['[FD00:EC2::254]', 'fd00:ec2::254'],
    ['127.0.0.1', '127.0.0.1'],
  ])('turns %s into %s', (host, expected) => {
    expect(normalizeHost(host)).toBe(expected);
  });
});
