import { LookupAddress, lookup as dnsLookup } from 'node:dns';
import { Agent as HttpAgent, IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { LookupFunction, isIP } from 'node:net';
import { AddressAllowlist, isDeniedAddress, normalizeHost } from '../core/address-policy';

/** The outcome of one outbound POST. */
export interface PostResult {
  /** HTTP status, absent when no response arrived. */
  statusCode?: number;
  headers: IncomingHttpHeaders;
  /** Response body, cut at the read limit. */
  body: string;
  durationMs: number;
  /** Why no (complete) response arrived. */
  error?: string;
  errorKind?: 'timeout' | 'network' | 'refused';
}

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Bytes of the response body kept; the rest is not read. */
  maxResponseBytes: number;
  allowlist: AddressAllowlist;
}

/** A target refused by the address policy (private, loopback, metadata, …). */
class RefusedAddressError extends Error {
  readonly code = 'EREFUSEDADDRESS';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** Resolves every address of a host, as `dns.lookup` with `all: true` does. */
export type LookupAll = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * Resolves like `dns.lookup`, then refuses the answer if any address is denied. The socket
 * connects to the address vetted here, so a DNS answer that changes between check and
 * connect (rebinding) cannot reach an internal host.
 */
export function vettedLookup(allowlist: AddressAllowlist, lookupAll: LookupAll = dnsLookup as unknown as LookupAll) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    lookupAll(hostname, { all: true, family: options.family }, (error, addresses) => {
      if (error) return callback(error, []);
      if (!allowlist.hosts.has(normalizeHost(hostname))) {
        // The address itself is not named: attempt logs are readable through the API (no DNS oracle).
        const denied = addresses.some((entry) => isDeniedAddress(entry.address, allowlist));
        if (denied) return callback(new RefusedAddressError(`${hostname} resolves to a private or reserved address`), []);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      if (!first) return callback(new RefusedAddressError(`${hostname} has no address`), []);
      return callback(null, first.address, first.family);
    });
  };
}

/** Keyed by the allowlist object itself: its vetted lookup is baked into the agents. */
const agents = new WeakMap<AddressAllowlist, { http: HttpAgent; https: HttpsAgent }>();

/** Keep-alive agents per allowlist, created once per container and reused by every delivery. */
function agentsFor(allowlist: AddressAllowlist): { http: HttpAgent; https: HttpsAgent } {
  let pair = agents.get(allowlist);
  if (!pair) {
    const lookup = vettedLookup(allowlist) as unknown as LookupFunction;
    // As many idle sockets kept as may be open: with fewer, a burst's sockets beyond them are
    // closed when freed and connected again on the next burst (3-4 % of the delivery handler's
    // CPU in the benchmark's profile, where several invocations share one process). Idle
    // keep-alive sockets cost nothing but a file descriptor.
    const options = { keepAlive: true, maxSockets: 50, maxFreeSockets: 50, lookup };
    pair = { http: new HttpAgent(options), https: new HttpsAgent(options) };
    agents.set(allowlist, pair);
  }
  return pair;
}

/**
 * POSTs once: no redirects followed (a 3xx is just a status), one deadline for connect,
 * response and body (a slow drip still ends at the timeout), the body read up to a cap.
 */
export function postWebhook(options: PostOptions): Promise<PostResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const url = new URL(options.url);
  const literal = normalizeHost(url.hostname);
  if (isIP(literal) && isDeniedAddress(literal, options.allowlist)) {
    return Promise.resolve({
      headers: {},
      body: '',
      durationMs: elapsed(),
      error: `target address ${literal} is not allowed`,
      errorKind: 'refused',
    });
  }
  const pair = agentsFor(options.allowlist);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<PostResult, 'durationMs'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: elapsed() });
    };
    const req = send(url, {
      method: 'POST',
      agent: url.protocol === 'https:' ? pair.https : pair.http,
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
    });
    const timer = setTimeout(() => {
      finish({ headers: {}, body: '', error: `timeout after ${options.timeoutMs} ms`, errorKind: 'timeout' });
      req.destroy();
    }, options.timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept >= options.maxResponseBytes) return;
        chunks.push(chunk.subarray(0, options.maxResponseBytes - kept));
        kept += Math.min(chunk.length, options.maxResponseBytes - kept);
        if (kept >= options.maxResponseBytes) {
          // Enough kept: stop reading and free the socket rather than draining a huge body.
          finish({ statusCode: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
          res.destroy();
        }
      });
      res.on('end', () =>
        finish({ statusCode: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (error) =>
        finish({ statusCode: res.statusCode, headers: res.headers, body: '', error: error.message, errorKind: 'network' }),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const refused = error instanceof RefusedAddressError || error.code === 'EREFUSEDADDRESS';
      finish({ headers: {}, body: '', error: error.message, errorKind: refused ? 'refused' : 'network' });
    });
    req.end(options.body);
  });
}
