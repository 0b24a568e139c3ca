import { BlockList, isIP } from 'node:net';

/**
 * IPv4 ranges a webhook must never reach unless allowlisted: private, loopback, link-local
 * (cloud metadata included), CGNAT, unspecified, multicast and reserved (IANA IPv4
 * special-purpose registry, the ranges that are not globally reachable).
 */
const DENIED_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, 169.254.169.254 metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

/**
 * IPv6 is allowed, not denied, by range: only global unicast (2000::/3) can be a webhook's
 * address. Everything outside it is refused whatever new prefix IANA assigns there: loopback,
 * unspecified, IPv4-mapped (::ffff:0:0/96), SIIT IPv4-translated (::ffff:0:0:0/96),
 * IPv4-compatible, NAT64 (64:ff9b::/96, 64:ff9b:1::/48), discard-only (100::/64), unique local
 * (fc00::/7, with fd00:ec2::254, EC2's metadata), link-local, site-local and multicast.
 */
const GLOBAL_UNICAST_V6: [string, number] = ['2000::', 3];

/**
 * The parts of 2000::/3 that the IANA IPv6 special-purpose registry sets aside, or that
 * embed an IPv4 address a relay would reach on our behalf.
 */
const DENIED_GLOBAL_V6: ReadonlyArray<[string, number]> = [
  // IETF protocol assignments as a whole: Teredo (2001::/32, embeds IPv4), benchmarking
  // (2001:2::/48), ORCHID (2001:10::/28), ORCHIDv2 (2001:20::/28), AMT, AS112, DRIP; none of
  // them is a web server's address.
  ['2001::', 23],
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4, embeds IPv4
  ['3fff::', 20], // documentation (RFC 9637)
  ['5f00::', 16], // SRv6 SIDs (RFC 9602), not globally reachable
];

/**
 * One list per family: a Node BlockList matches IPv4 addresses against IPv4-mapped IPv6
 * subnets, so a single list holding `::ffff:0:0/96` would deny every IPv4 address.
 */
interface RangeLists {
  readonly ipv4: BlockList;
  readonly ipv6: BlockList;
}

function newRangeLists(): RangeLists {
  return { ipv4: new BlockList(), ipv6: new BlockList() };
}

const deniedRanges = newRangeLists();
for (const [network, prefix] of DENIED_V4) deniedRanges.ipv4.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of DENIED_GLOBAL_V6) deniedRanges.ipv6.addSubnet(network, prefix, 'ipv6');

const globalUnicastV6 = new BlockList();
globalUnicastV6.addSubnet(...GLOBAL_UNICAST_V6, 'ipv6');

/** An allowlist entry: a CIDR, a single address, or a host name (exact, case-insensitive). */
export interface AddressAllowlist {
  readonly ranges: RangeLists;
  readonly hosts: ReadonlySet<string>;
}

/** Parses `127.0.0.0/8,::1,localhost` style configuration into an allowlist. */
export function parseAllowlist(spec: string | undefined): AddressAllowlist {
  const ranges = newRangeLists();
  const hosts = new Set<string>();
  for (const raw of (spec ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [address, prefixText] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0) {
      hosts.add(normalizeHost(entry));
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) ranges[type].addAddress(address as string, type);
    else ranges[type].addSubnet(address as string, Number(prefixText), type);
  }
  return { ranges, hosts };
}

/** Lower-cases and drops the trailing dot of a fully-qualified host name. */
export function normalizeHost(host: string): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return unbracketed.toLowerCase().replace(/\.+$/, '');
}

/** True when `address` (an IP literal) is in a denied range and not allowlisted. */
export function isDeniedAddress(address: string, allowlist: AddressAllowlist): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (allowlist.ranges[type].check(address, type)) return false;
  if (type === 'ipv6' && !globalUnicastV6.check(address, 'ipv6')) return true;
  return deniedRanges[type].check(address, type);
}
