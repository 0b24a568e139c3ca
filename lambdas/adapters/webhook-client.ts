import { LookupAddress, lookup as dnsLookup } from 'node:dns';
import { Agent as HttpAgent, IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { LookupFunction, isIP } from 'node:net';
import { AddressAllowlist, isDeniedAddress, normalizeHost } from '../core/address-policy';
import { redactSecrets } from '../core/secret-redaction';
import { UNREACHABLE_TARGET } from '../core/target-policy';

/** The outcome of one outbound POST. */
export interface PostResult {
  /** HTTP status, absent when no response arrived. */
  statusCode?: number;
  headers: IncomingHttpHeaders;
  /** Response body, cut at the read limit, with secrets redacted (it is stored and shown). */
  body: string;
  /** The same as received, unredacted: for a caller that acts on it (a routing answer), never stored. */
  receivedBody?: string;
  durationMs: number;
  /**
   * The answer alone: from the request sent on a connected socket (after DNS, connect and TLS)
   * to the whole response; absent when the request was never sent.
   */
  answerMs?: number;
  /** Why no (complete) response arrived. */
  error?: string;
  errorKind?: 'timeout' | 'network' | 'refused';
}

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /**
   * A shorter deadline for the answer alone, from the request sent on a connected socket (the
   * fast lane's): a receiver far away still has `timeoutMs` for DNS, connect and TLS.
   */
  answerTimeoutMs?: number;
  /** Bytes of the response body kept; the rest is not read. */
  maxResponseBytes: number;
  allowlist: AddressAllowlist;
}

/** A target refused by the address policy (private, loopback, metadata, …). */
class RefusedAddressError extends Error {
  readonly code = 'EREFUSEDADDRESS';
}

/** How an attempt log reads a refused target: the API's own refusal, word for word. */
const REFUSED_TARGET = `target ${UNREACHABLE_TARGET}`;

/**
 * Name resolution failures: the name does not exist, or has no address. Logged as the refusal
 * of a private target, so attempt logs do not tell which internal names resolve.
 */
const UNRESOLVED_CODES = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA', 'ENODATA', 'EAI_FAIL']);

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
        if (denied) return callback(new RefusedAddressError(REFUSED_TARGET), []);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      if (!first) return callback(new RefusedAddressError(REFUSED_TARGET), []);
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
    // No cap on open sockets: a Lambda container runs one invocation at a time, and a batch
    // POSTs at most its 10 messages at once, so on AWS a cap never binds; locally, where every
    // invocation shares this process, a cap per host:port made deliveries to one host wait for
    // each other's sockets (their deadline running) as no container on AWS would. Up to 50 idle
    // sockets are kept: with fewer, a burst's sockets beyond them are closed when freed and
    // connected again on the next burst (3-4 % of the delivery handler's CPU in the profile).
    const options = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 50, lookup };
    pair = { http: new HttpAgent(options), https: new HttpsAgent(options) };
    agents.set(allowlist, pair);
  }
  return pair;
}

/**
 * POSTs once: no redirects followed (a 3xx is just a status), one deadline for connect,
 * response and body (a slow drip still ends at the timeout) and optionally a shorter one for the
 * answer alone, the body read up to a cap, and the secret the request carried (`x-hook-secret`)
 * or anything shaped like one redacted from it.
 */
export function postWebhook(options: PostOptions): Promise<PostResult> {
  const secrets = Object.entries(options.headers)
    .filter(([name]) => name.toLowerCase() === 'x-hook-secret')
    .map(([, value]) => value);
  const read = (chunks: Buffer[]): { body: string; receivedBody: string } => {
    const receivedBody = Buffer.concat(chunks).toString('utf8');
    return { body: redactSecrets(receivedBody, secrets), receivedBody };
  };
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const url = new URL(options.url);
  const literal = normalizeHost(url.hostname);
  if (isIP(literal) && isDeniedAddress(literal, options.allowlist)) {
    return Promise.resolve({
      headers: {},
      body: '',
      durationMs: elapsed(),
      error: REFUSED_TARGET,
      errorKind: 'refused',
    });
  }
  const pair = agentsFor(options.allowlist);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    let answerTimer: NodeJS.Timeout | undefined;
    /** When the request was sent: written whole on a connected (for https, secured) socket. */
    let sentAt: number | undefined;
    const finish = (result: Omit<PostResult, 'durationMs'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(answerTimer);
      const answerMs = sentAt === undefined ? undefined : Math.round(performance.now() - sentAt);
      resolve({ ...result, durationMs: elapsed(), ...(answerMs === undefined ? {} : { answerMs }) });
    };
    const req = send(url, {
      method: 'POST',
      agent: url.protocol === 'https:' ? pair.https : pair.http,
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
    });
    const giveUp = (error: string): void => {
      finish({ headers: {}, body: '', error, errorKind: 'timeout' });
      req.destroy();
    };
    const timer = setTimeout(() => giveUp(`timeout after ${options.timeoutMs} ms`), options.timeoutMs);
    let connected = false;
    let written = false;
    const sent = (): void => {
      if (!connected || !written || sentAt !== undefined || settled) return;
      sentAt = performance.now();
      const answerTimeoutMs = options.answerTimeoutMs;
      if (answerTimeoutMs !== undefined && answerTimeoutMs < options.timeoutMs) {
        answerTimer = setTimeout(() => giveUp(`no answer within ${answerTimeoutMs} ms of the request`), answerTimeoutMs);
      }
    };
    req.on('socket', (socket) => {
      const ready = (): void => {
        connected = true;
        sent();
      };
      // A kept-alive socket is connected (and secured) already; a new one is once it says so.
      if (socket.connecting) socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', ready);
      else ready();
    });
    req.on('finish', () => {
      written = true;
      sent();
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept >= options.maxResponseBytes) return;
        chunks.push(chunk.subarray(0, options.maxResponseBytes - kept));
        kept += Math.min(chunk.length, options.maxResponseBytes - kept);
        if (kept >= options.maxResponseBytes) {
          // Enough kept: stop reading and free the socket rather than draining a huge body.
          finish({ statusCode: res.statusCode, headers: res.headers, ...read(chunks) });
          res.destroy();
        }
      });
      res.on('end', () => finish({ statusCode: res.statusCode, headers: res.headers, ...read(chunks) }));
      res.on('error', (error) =>
        finish({ statusCode: res.statusCode, headers: res.headers, body: '', error: error.message, errorKind: 'network' }),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const refused = error instanceof RefusedAddressError || error.code === 'EREFUSEDADDRESS';
      if (refused || UNRESOLVED_CODES.has(error.code ?? '')) {
        finish({ headers: {}, body: '', error: REFUSED_TARGET, errorKind: 'refused' });
        return;
      }
      finish({ headers: {}, body: '', error: describeRequestError(error), errorKind: 'network' });
    });
    req.end(options.body);
  });
}

/** OpenSSL's reasons for a handshake that met something other than TLS (a plain-HTTP server). */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|record layer failure/i;

/**
 * The error of a request that got no response, in words that say what to fix: OpenSSL's text
 * for an `https://` target that answers plain HTTP (`…:ssl3_get_record:wrong version number:…`)
 * names no cause a subscriber would recognise. Other errors keep Node's message.
 */
export function describeRequestError(error: NodeJS.ErrnoException): string {
  if (error.code === 'EPROTO' || error.code?.startsWith('ERR_SSL_')) {
    if (NOT_TLS.test(error.message)) return 'TLS handshake failed — does the target speak HTTPS? (its answer was not TLS)';
    return `TLS handshake failed: ${error.message.replace(/^.*?error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):.*$/s, '$1')}`;
  }
  return error.message;
}
