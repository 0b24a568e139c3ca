import { GetSecretValueCommand, GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { JWT_SECRET_CACHE } from '../core/settings';
import { SDK_CLIENT_CONFIG } from './sdk-config';

/** The versions of the API token signing secret that may verify a token. */
export interface SigningSecretVersions {
  /** The secret tokens are signed with now (Secrets Manager stage AWSCURRENT). */
  readonly current: string;
  /**
   * The secret before the last rotation (stage AWSPREVIOUS), with the time the current one
   * replaced it (the AWSCURRENT version's creation).
   */
  readonly previous?: { readonly value: string; readonly replacedAt: Date };
}

/** What the adapter needs of the Secrets Manager client (tests script it; no emulator exists). */
export interface SecretsClient {
  send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput>;
}

/**
 * Reads both stages of the secret. A secret never rotated has no AWSPREVIOUS version; a
 * current version without a creation date cannot date the rotation, so its previous one is
 * treated as past its overlap.
 */
export async function readSecretVersions(client: SecretsClient, secretId: string): Promise<SigningSecretVersions> {
  const [current, previous] = await Promise.all([
    client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' })),
    readOptionalStage(client, secretId, 'AWSPREVIOUS'),
  ]);
  if (!current.SecretString) throw new Error('JWT secret is empty');
  if (!previous?.SecretString) return { current: current.SecretString };
  return {
    current: current.SecretString,
    previous: { value: previous.SecretString, replacedAt: current.CreatedDate ?? new Date(0) },
  };
}

async function readOptionalStage(
  client: SecretsClient,
  secretId: string,
  stage: string,
): Promise<GetSecretValueCommandOutput | undefined> {
  try {
    return await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
  } catch (error) {
    if ((error as { name?: unknown } | null)?.name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/**
 * The secrets a token may be signed with at `now`: the current one, and the previous one
 * while the rotation that replaced it is younger than the overlap. The overlap lets tokens
 * minted just before a rotation run out instead of failing at once.
 */
export function acceptedSecrets(versions: SigningSecretVersions, overlapSeconds: number, now: number): string[] {
  const { current, previous } = versions;
  if (previous && now - previous.replacedAt.getTime() < overlapSeconds * 1000) return [current, previous.value];
  return [current];
}

/** How the signing secret is kept per container. @default JWT_SECRET_CACHE of lambdas/core/settings.ts */
export interface JwtSecretSourceOptions {
  /** How long a read secret is used before it is read again. */
  ttlSeconds?: number;
  /** Least time between two reads caused by a token the cached secrets refuse. */
  minRefreshIntervalSeconds?: number;
  /** How long after a rotation the previous secret still verifies tokens. */
  previousOverlapSeconds?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The signing secrets, read on demand and kept per container with an expiry. */
export interface JwtSecretSource {
  /** The accepted secrets; read again once the cached copy is older than the expiry. */
  secrets(): Promise<string[]>;
  /**
   * For a token the cached secrets refused: read again, as it may be signed by a secret
   * rotated in since, but at most once per `minRefreshIntervalSeconds`, so forged tokens
   * cannot make the function hammer Secrets Manager. `undefined` when it is too soon.
   */
  refreshed(): Promise<string[] | undefined>;
}

/**
 * A {@link JwtSecretSource} over `read`; create one per container (module scope). Concurrent
 * callers share one read; a failed read is not kept (it is thrown, and the next call reads
 * again), so a Secrets Manager outage answers 500, never a wrong 401.
 */
export function createJwtSecretSource(
  read: () => Promise<SigningSecretVersions>,
  options: JwtSecretSourceOptions = {},
): JwtSecretSource {
  const ttlMs = (options.ttlSeconds ?? JWT_SECRET_CACHE.ttlSeconds) * 1000;
  const minRefreshMs = (options.minRefreshIntervalSeconds ?? JWT_SECRET_CACHE.minRefreshIntervalSeconds) * 1000;
  const overlapSeconds = options.previousOverlapSeconds ?? JWT_SECRET_CACHE.previousOverlapSeconds;
  const now = options.now ?? Date.now;

  let cached: { versions: SigningSecretVersions; readAt: number } | undefined;
  let inFlight: Promise<SigningSecretVersions> | undefined;

  const reread = (): Promise<SigningSecretVersions> => {
    inFlight ??= read()
      .then((versions) => {
        cached = { versions, readAt: now() };
        return versions;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  const accepted = (versions: SigningSecretVersions): string[] => acceptedSecrets(versions, overlapSeconds, now());

  return {
    async secrets() {
      if (!cached || now() - cached.readAt >= ttlMs) return accepted(await reread());
      return accepted(cached.versions);
    },
    async refreshed() {
      if (cached && now() - cached.readAt < minRefreshMs) return undefined;
      return accepted(await reread());
    },
  };
}

/**
 * Where the secret comes from: Secrets Manager when `JWT_SECRET_ARN` is set (deployed), else
 * `JWT_SECRET` (local stack, tests), which has no previous version.
 */
export function secretReaderFor(
  env: NodeJS.ProcessEnv = process.env,
  client?: SecretsClient,
): () => Promise<SigningSecretVersions> {
  const { JWT_SECRET_ARN: secretArn, JWT_SECRET: secret } = env;
  if (secretArn) {
    const secretsManager = client ?? new SecretsManagerClient({ ...SDK_CLIENT_CONFIG });
    return () => readSecretVersions(secretsManager, secretArn);
  }
  return async () => {
    if (!secret) throw new Error('Neither JWT_SECRET_ARN nor JWT_SECRET is set');
    return { current: secret };
  };
}
