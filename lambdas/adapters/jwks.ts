import * as z from 'zod';
import { Jwk, jwkSchema } from '../core/token';

/** How the key set is fetched and kept. */
export interface JwksSourceOptions {
  /** How long a fetched set is used before it is fetched again. @default 10 minutes */
  ttlMs?: number;
  /** Least time between two fetches caused by an unknown `kid`. @default 30 s */
  minRefetchIntervalMs?: number;
  /** Per-fetch timeout, body included. @default 3 s */
  timeoutMs?: number;
  /** Largest key set read. @default 256 KiB */
  maxBytes?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The identity provider's public keys, fetched on demand and kept per container. */
export interface JwksSource {
  /**
   * The key set, in which the caller looks for `kid`. A set that lacks `kid` is fetched again
   * (a rotation at the IdP), but at most once per `minRefetchIntervalMs`, so tokens with made-up
   * key ids cannot make the function hammer the IdP. Throws {@link JwksFetchError} when a
   * fetch it needs fails; the failure is not kept, the next call fetches again.
   */
  keysFor(kid: string): Promise<readonly Jwk[]>;
}

/** The key set could not be fetched: the IdP is down or answers something else than a JWKS. */
export class JwksFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksFetchError';
  }
}

const jwksSchema = z.object({ keys: z.array(jwkSchema) });

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Checks that the key set URL is `https://` (`http://` only on a loopback host, for local
 * runs and tests); throws otherwise, so a misconfigured function fails at cold start.
 */
export function checkJwksUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`JWKS URL is not a URL: ${url}`);
  }
  const loopbackHttp = parsed.protocol === 'http:' && LOOPBACK_HOST.test(parsed.hostname);
  if (parsed.protocol !== 'https:' && !loopbackHttp) throw new Error(`JWKS URL must be https: ${url}`);
  return parsed;
}

/** A {@link JwksSource} for `url`; create one per container (module scope) so the cache is shared. */
export function createJwksSource(url: string, options: JwksSourceOptions = {}): JwksSource {
  const target = checkJwksUrl(url);
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const minRefetchIntervalMs = options.minRefetchIntervalMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const now = options.now ?? Date.now;

  let cached: { keys: readonly Jwk[]; fetchedAt: number } | undefined;
  let lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<readonly Jwk[]> | undefined;

  // Concurrent callers share one fetch; only a successful one replaces the cache.
  const refresh = (): Promise<readonly Jwk[]> => {
    inFlight ??= fetchJwks(target, timeoutMs, maxBytes)
      .then((keys) => {
        cached = { keys, fetchedAt: now() };
        return keys;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    async keysFor(kid) {
      if (!cached || now() - cached.fetchedAt >= ttlMs) return refresh();
      if (cached.keys.some((key) => key.kid === kid)) return cached.keys;
      if (now() - lastUnknownKidFetch < minRefetchIntervalMs) return cached.keys;
      lastUnknownKidFetch = now();
      return refresh();
    },
  };
}

async function fetchJwks(url: URL, timeoutMs: number, maxBytes: number): Promise<readonly Jwk[]> {
  let body: string;
  try {
    // No redirects: an https URL must not be able to hand the key set over to another origin.
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new JwksFetchError(`JWKS fetch answered ${response.status}`);
    }
    body = await readCapped(response, maxBytes);
  } catch (error) {
    if (error instanceof JwksFetchError) throw error;
    // AbortSignal.timeout rejects with a DOMException, not an Error in every realm: read its name.
    if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
      throw new JwksFetchError(`JWKS fetch timed out after ${timeoutMs} ms`);
    }
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new JwksFetchError(`JWKS fetch failed: ${error instanceof Error ? error.message : String(error)}${cause}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new JwksFetchError('JWKS is not JSON');
  }
  const jwks = jwksSchema.safeParse(parsed);
  if (!jwks.success) throw new JwksFetchError('JWKS has no keys array of key objects');
  return jwks.data.keys;
}

/** The body as text, refusing (and cancelling) a body over `maxBytes`. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new JwksFetchError(`JWKS is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader?.read()) {
    size += read.value.byteLength;
    if (size > maxBytes) {
      await reader?.cancel();
      throw new JwksFetchError(`JWKS is larger than ${maxBytes} bytes`);
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
