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
 * The one refusal of a target that is, resolves to, or cannot be told apart from an internal
 * address: private, reserved, or unresolvable names all get these very words, in the API's
 * answers and in attempt logs, so neither tells which internal host names exist. It names the
 * settings that make exceptions, so a newcomer learns how to allow a private receiver.
 */
export const UNREACHABLE_TARGET =
  'is not a public address (private, reserved and unresolvable hosts are refused alike); ' +
  'to allow one, add its host name or CIDR to TARGET_ALLOWLIST (npm start) or to the targetAllowlist context (cdk deploy)';

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
  // `localhost:8787/hook` parses with the scheme `localhost:`: say what is taken here.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return policy.allowHttp ? 'must use https or http' : 'must use https';
  if (url.protocol === 'http:' && !policy.allowHttp) return 'must use https (http is not enabled on this deployment)';
  if (url.username || url.password) return 'must not contain credentials';
  if (!url.hostname) return 'must have a host';
  return null;
}

/**
 * Checks where a target leads: refuses one that is, or resolves to, a denied address unless
 * the allowlist exempts it, and one that cannot be resolved, with the same words
 * ({@link UNREACHABLE_TARGET}). Used at creation and, with the address pinned, at delivery. The
 * refusal never names the resolved address nor says whether the name resolved: either would
 * turn the API into a DNS oracle for internal names.
 */
export async function checkTargetAddress(
  target: string,
  policy: TargetPolicy,
  resolve: Resolver = systemResolver,
): Promise<TargetProblem> {
  const host = normalizeHost(new URL(target).hostname);
  if (policy.allowlist.hosts.has(host)) return null;
  const addresses = isIP(host) ? [host] : await resolveOrEmpty(resolve, host);
  if (addresses.length === 0) return UNREACHABLE_TARGET;
  const denied = addresses.some((address) => isDeniedAddress(address, policy.allowlist));
  return denied ? UNREACHABLE_TARGET : null;
}

/**
 * The target as it will be stored, shown and called: the WHATWG parser's `href` of an accepted
 * target. What is delivered to is what the parser makes of the text (`http://a.example\@10.0.0.1/`
 * goes to `a.example`), so storing the typed text would show one host and call another, and let
 * two spellings of one URL pass the duplicate check.
 */
export function normalizeTarget(target: string): string {
  return new URL(target).href;
}

async function resolveOrEmpty(resolve: Resolver, host: string): Promise<string[]> {
  try {
    return await resolve(host);
  } catch {
    return [];
  }
}
