import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AddressAllowlist, isDeniedAddress, normalizeHost } from './address-policy';

export const TARGET_MAX_LENGTH = 2048;

/** What a webhook target may be: settings of the deployment. */
export interface TargetPolicy {
  /** Accept `http://` targets as well as `https://`. */
  readonly allowHttp: boolean;
  /** Hosts and ranges exempt from the private-address refusal. */
  readonly allowlist: AddressAllowlist;
}

/** Resolves a host name to every address it has. */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** C0 controls, DEL and C1 controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a target was refused; `null` when it is acceptable. */
export type TargetProblem = string | null;

/**
 * Checks the form of a target URL: scheme, length, no credentials, a host. Host names are
 * normalised by the WHATWG parser, so decimal, octal and hex IPv4 spellings become dotted quads.
 */
export function checkTargetForm(target: string, policy: TargetPolicy): TargetProblem {
  if (target.length > TARGET_MAX_LENGTH) return `must be at most ${TARGET_MAX_LENGTH} characters`;
  // The URL parser silently drops CR, LF and tab: the stored target would differ from the one
  // requested, and a log or header could be split by it.
  if (CONTROL_CHARACTER.test(target)) return 'must not contain control characters (CR, LF, tab, …)';
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https';
  if (url.protocol === 'http:' && !policy.allowHttp) return 'must use https (http is not enabled on this deployment)';
  if (url.username || url.password) return 'must not contain credentials';
  if (!url.hostname) return 'must have a host';
  return null;
}

/**
 * Checks where a target leads: refuses one that is, or resolves to, a denied address unless
 * the allowlist exempts it. Used at creation and, with the address pinned, at delivery. The
 * refusal never names the resolved address: it would turn the API into a DNS oracle for
 * internal names.
 */
export async function checkTargetAddress(
  target: string,
  policy: TargetPolicy,
  resolve: Resolver = systemResolver,
): Promise<TargetProblem> {
  const host = normalizeHost(new URL(target).hostname);
  if (policy.allowlist.hosts.has(host)) return null;
  const addresses = isIP(host) ? [host] : await resolveOrEmpty(resolve, host);
  if (addresses.length === 0) return `host ${host} cannot be resolved`;
  const denied = addresses.some((address) => isDeniedAddress(address, policy.allowlist));
  return denied ? 'resolves to a private or reserved address' : null;
}

async function resolveOrEmpty(resolve: Resolver, host: string): Promise<string[]> {
  try {
    return await resolve(host);
  } catch {
    return [];
  }
}
