import { isIP } from 'node:net';
import { AddressAllowlist, parseAllowlist } from './address-policy';

/**
 * Where a Tiledesk ingest request comes from: on AWS the HTTP API's
 * `requestContext.http.sourceIp` (the TCP peer as API Gateway saw it, not a header a client can
 * write), locally the socket's peer. Used for the optional allowlist of Tiledesk's egress
 * addresses and for the per-source request limit.
 */

/**
 * Parses `TILEDESK_INGEST_SOURCE_ALLOWLIST` (CIDRs and addresses, comma-separated): `undefined`
 * when unset, meaning every source. Host names are refused: a source is an address, never a name.
 */
export function parseSourceAllowlist(spec: string | undefined): AddressAllowlist | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const entries = spec.split(',').map((entry) => entry.trim()).filter(Boolean);
  const name = entries.find((entry) => isIP(entry.split('/')[0] ?? '') === 0);
  if (name !== undefined) throw new Error(`use comma-separated CIDRs or addresses, e.g. 203.0.113.0/24 (not ${name})`);
  return parseAllowlist(entries.join(','));
}

/** The address as one family spells it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as IPv4. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** True when `allowlist` is unset or holds `address`. */
export function isAllowedSource(address: string, allowlist: AddressAllowlist | undefined): boolean {
  if (!allowlist) return true;
  const plain = plainAddress(address);
  const family = isIP(plain);
  if (family === 0) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return allowlist.ranges[type].check(plain, type);
}

/**
 * The key a source is limited under: an IPv4 address as is, an IPv6 address by its /64, since
 * one host commonly holds a whole /64 and could otherwise change address at every request.
 */
export function sourceLimitKey(address: string): string {
  const plain = plainAddress(address);
  if (isIP(plain) !== 6) return plain;
  return `${expandIpv6(plain).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, `::` expanded (an embedded IPv4 tail counts as two). */
function expandIpv6(address: string): string[] {
  const withoutZone = address.split('%')[0] ?? address;
  const [head = '', tail = ''] = withoutZone.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = groups(tail);
  const missing = Math.max(0, 8 - left.length - right.length);
  return withoutZone.includes('::') ? [...left, ...Array<string>(missing).fill('0'), ...right] : left;
}
