import { GetSecretValueCommand, GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import {
  SecretsClient,
  SigningSecretVersions,
  acceptedSecrets,
  createJwtSecretSource,
  readSecretVersions,
  secretReaderFor,
} from '../../../lambdas/adapters/jwt-secret';
import { UnauthenticatedError } from '../../../lambdas/core/errors';
import { signToken } from '../../../lambdas/core/token';
import { verifyHs256 } from '../../../lambdas/handlers/authorizer';
import { JWT_SECRET_CACHE } from '../../../lambdas/core/settings';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:JwtSecret-abc123';
const T0 = Date.parse('2026-12-01T00:00:00Z');
const TTL_MS = JWT_SECRET_CACHE.ttlSeconds * 1000;
const REFRESH_MS = JWT_SECRET_CACHE.minRefreshIntervalSeconds * 1000;
const OVERLAP_MS = JWT_SECRET_CACHE.previousOverlapSeconds * 1000;

/**
 * Secrets Manager as a script: versions with stages, moved as PutSecretValue moves them
 * (the new version becomes AWSCURRENT, the former current AWSPREVIOUS). No emulator of
 * Secrets Manager runs here, so this is the one fake of these tests; it answers
 * GetSecretValue as the service documents it, including ResourceNotFoundException for a
 * stage no version carries.
 */
class ScriptedSecretsManager implements SecretsClient {
  readonly requests: { SecretId?: string; VersionStage?: string }[] = [];
  private versions: { value: string; created: Date; stages: Set<string> }[];
  failWith?: Error;

  constructor(initial: string, created: Date) {
    this.versions = [{ value: initial, created, stages: new Set(['AWSCURRENT']) }];
  }

  /** `aws secretsmanager put-secret-value --secret-string …` */
  rotate(value: string, at: Date): void {
    for (const version of this.versions) version.stages.delete('AWSPREVIOUS');
    for (const version of this.versions) {
      if (version.stages.delete('AWSCURRENT')) version.stages.add('AWSPREVIOUS');
    }
    this.versions.push({ value, created: at, stages: new Set(['AWSCURRENT']) });
  }

  /** `aws secretsmanager update-secret-version-stage --version-stage AWSPREVIOUS --remove-from-version-id …` */
  removePrevious(): void {
    for (const version of this.versions) version.stages.delete('AWSPREVIOUS');
  }

  async send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput> {
    this.requests.push({ SecretId: command.input.SecretId, VersionStage: command.input.VersionStage });
    if (this.failWith) throw this.failWith;
    if (command.input.SecretId !== SECRET_ARN) throw Object.assign(new Error('no such secret'), { name: 'ResourceNotFoundException' });
    const stage = command.input.VersionStage ?? 'AWSCURRENT';
    const version = this.versions.find((candidate) => candidate.stages.has(stage));
    if (!version) {
      throw Object.assign(new Error(`Secrets Manager can't find the specified secret value for staging label: ${stage}`), {
        name: 'ResourceNotFoundException',
      });
    }
    return { $metadata: {}, ARN: SECRET_ARN, SecretString: version.value, CreatedDate: version.created, VersionStages: [...version.stages] };
  }
}

/** A clock the test moves. */
function testClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), seconds: () => Math.floor(now / 1000) };
}

describe('readSecretVersions', () => {
  it('reads AWSCURRENT and AWSPREVIOUS of the configured secret', async () => {
    const client = new ScriptedSecretsManager('first', new Date(T0));
    client.rotate('second', new Date(T0 + 1000));
    await expect(readSecretVersions(client, SECRET_ARN)).resolves.toEqual<SigningSecretVersions>({
      current: 'second',
      previous: { value: 'first', replacedAt: new Date(T0 + 1000) },
    });
    expect(client.requests).toEqual(
      expect.arrayContaining([
        { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT' },
        { SecretId: SECRET_ARN, VersionStage: 'AWSPREVIOUS' },
      ]),
    );
    expect(client.requests).toHaveLength(2);
  });

  it('has no previous secret before the first rotation', async () => {
    const client = new ScriptedSecretsManager('first', new Date(T0));
    await expect(readSecretVersions(client, SECRET_ARN)).resolves.toEqual({ current: 'first' });
  });

  it('dates a previous secret whose current version has no creation date at the epoch (no overlap)', async () => {
    const client = new ScriptedSecretsManager('first', new Date(T0));
    client.rotate('second', new Date(T0));
    const send = client.send.bind(client);
    const undated: SecretsClient = { send: async (command) => ({ ...(await send(command)), CreatedDate: undefined }) };
    const versions = await readSecretVersions(undated, SECRET_ARN);
    expect(versions.previous?.replacedAt).toEqual(new Date(0));
    expect(acceptedSecrets(versions, JWT_SECRET_CACHE.previousOverlapSeconds, T0)).toEqual(['second']);
  });

  it('refuses an empty secret', async () => {
    const client = new ScriptedSecretsManager('', new Date(T0));
    await expect(readSecretVersions(client, SECRET_ARN)).rejects.toThrow('JWT secret is empty');
  });

  it('passes on any failure other than a missing AWSPREVIOUS', async () => {
    const client = new ScriptedSecretsManager('first', new Date(T0));
    client.failWith = Object.assign(new Error('not authorized to perform secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' });
    await expect(readSecretVersions(client, SECRET_ARN)).rejects.toThrow(/not authorized/);
    await expect(readSecretVersions(new ScriptedSecretsManager('x', new Date(T0)), 'arn:other')).rejects.toThrow('no such secret');
  });
});

describe('acceptedSecrets', () => {
  const versions: SigningSecretVersions = { current: 'new', previous: { value: 'old', replacedAt: new Date(T0) } };

  it('accepts the previous secret from the rotation until the overlap ends, then only the current one', () => {
    expect(acceptedSecrets(versions, 3600, T0)).toEqual(['new', 'old']);
    expect(acceptedSecrets(versions, 3600, T0 + 3_599_999)).toEqual(['new', 'old']);
    expect(acceptedSecrets(versions, 3600, T0 + 3_600_000)).toEqual(['new']);
  });

  it('accepts only the current secret when there is no previous one', () => {
    expect(acceptedSecrets({ current: 'only' }, 3600, T0)).toEqual(['only']);
  });
});

describe('createJwtSecretSource', () => {
  it('reads once and serves the cached secrets until the expiry, then reads again', async () => {
    const clock = testClock();
    const read = jest.fn(async (): Promise<SigningSecretVersions> => ({ current: `read at ${clock.now()}` }));
    const source = createJwtSecretSource(read, { now: clock.now });
    await expect(source.secrets()).resolves.toEqual([`read at ${T0}`]);
    clock.advance(TTL_MS - 1);
    await expect(source.secrets()).resolves.toEqual([`read at ${T0}`]);
    expect(read).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await expect(source.secrets()).resolves.toEqual([`read at ${T0 + TTL_MS}`]);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('shares one read between concurrent callers', async () => {
    const read = jest.fn(async (): Promise<SigningSecretVersions> => ({ current: 's' }));
    const source = createJwtSecretSource(read, { now: testClock().now });
    await Promise.all([source.secrets(), source.secrets(), source.refreshed()]);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failed read: it is thrown, and the next call reads again', async () => {
    const clock = testClock();
    const client = new ScriptedSecretsManager('first', new Date(T0));
    const source = createJwtSecretSource(() => readSecretVersions(client, SECRET_ARN), { now: clock.now });
    client.failWith = Object.assign(new Error('Secrets Manager unavailable'), { name: 'InternalServiceError' });
    await expect(source.secrets()).rejects.toThrow('Secrets Manager unavailable');
    client.failWith = undefined;
    await expect(source.secrets()).resolves.toEqual(['first']);
  });

  it('reads again for a refused token at most once per refresh interval', async () => {
    const clock = testClock();
    const read = jest.fn(async (): Promise<SigningSecretVersions> => ({ current: 's' }));
    const source = createJwtSecretSource(read, { now: clock.now });
    await source.secrets();
    clock.advance(REFRESH_MS - 1);
    await expect(source.refreshed()).resolves.toBeUndefined();
    expect(read).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await expect(source.refreshed()).resolves.toEqual(['s']);
    await expect(source.refreshed()).resolves.toBeUndefined();
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('takes its expiry, refresh interval and overlap from lambdas/core/settings.ts: minutes, not forever', () => {
    expect(JWT_SECRET_CACHE.ttlSeconds).toBeGreaterThanOrEqual(60);
    expect(JWT_SECRET_CACHE.ttlSeconds).toBeLessThanOrEqual(900);
    expect(JWT_SECRET_CACHE.minRefreshIntervalSeconds).toBeLessThan(JWT_SECRET_CACHE.ttlSeconds);
    expect(JWT_SECRET_CACHE.previousOverlapSeconds).toBeGreaterThan(JWT_SECRET_CACHE.ttlSeconds);
  });
});

describe('secretReaderFor', () => {
  it('reads Secrets Manager when JWT_SECRET_ARN is set, even if JWT_SECRET is too', async () => {
    const client = new ScriptedSecretsManager('from-secrets-manager', new Date(T0));
    const read = secretReaderFor({ JWT_SECRET_ARN: SECRET_ARN, JWT_SECRET: 'local' }, client);
    await expect(read()).resolves.toEqual({ current: 'from-secrets-manager' });
    expect(client.requests.length).toBeGreaterThan(0);
  });

  it('uses JWT_SECRET without a previous secret otherwise', async () => {
    await expect(secretReaderFor({ JWT_SECRET: 'local' })()).resolves.toEqual({ current: 'local' });
  });

  it('fails the read, not the module load, when neither is set', async () => {
    const read = secretReaderFor({});
    await expect(read()).rejects.toThrow('Neither JWT_SECRET_ARN nor JWT_SECRET is set');
  });
});

describe('a rotation across two authorizer containers', () => {
  const secretsManager = (): ScriptedSecretsManager => new ScriptedSecretsManager('secret-A', new Date(T0 - 30 * 86_400_000));

  /** One container: its own cache over the shared Secrets Manager and clock. */
  const container = (client: ScriptedSecretsManager, clock: ReturnType<typeof testClock>) => {
    const source = createJwtSecretSource(() => readSecretVersions(client, SECRET_ARN), { now: clock.now });
    return (token: string) => verifyHs256(token, source, clock.seconds());
  };

  const refused = new UnauthenticatedError('Invalid token signature');

  it('accepts new tokens at once in both containers and old ones through the overlap', async () => {
    const clock = testClock();
    const client = secretsManager();
    const [first, second] = [container(client, clock), container(client, clock)];
    const oldToken = signToken({ sub: 'old' }, 'secret-A', 3 * 86_400, clock.seconds());
    await expect(first(oldToken)).resolves.toMatchObject({ userId: 'old' });
    await expect(second(oldToken)).resolves.toMatchObject({ userId: 'old' });

    clock.advance(REFRESH_MS);
    client.rotate('secret-B', new Date(clock.now()));
    const newToken = signToken({ sub: 'new' }, 'secret-B', 3 * 86_400, clock.seconds());
    // Both containers still hold secret-A alone, well within the cache expiry: the refused
    // signature makes each read again, and the new token passes.
    await expect(first(newToken)).resolves.toMatchObject({ userId: 'new' });
    await expect(second(newToken)).resolves.toMatchObject({ userId: 'new' });
    await expect(first(oldToken)).resolves.toMatchObject({ userId: 'old' });
    await expect(second(oldToken)).resolves.toMatchObject({ userId: 'old' });

    // Through the overlap, across cache expiries, both stay accepted.
    clock.advance(OVERLAP_MS - TTL_MS);
    await expect(first(oldToken)).resolves.toMatchObject({ userId: 'old' });
    await expect(second(newToken)).resolves.toMatchObject({ userId: 'new' });
  });

  it('refuses old tokens in both containers once the overlap has ended, cached or not', async () => {
    const clock = testClock();
    const client = secretsManager();
    const [first, second] = [container(client, clock), container(client, clock)];
    const oldToken = signToken({ sub: 'old' }, 'secret-A', 3 * 86_400, clock.seconds());
    client.rotate('secret-B', new Date(clock.now()));
    await expect(first(oldToken)).resolves.toMatchObject({ userId: 'old' });

    clock.advance(OVERLAP_MS - 1000);
    await expect(second(oldToken)).resolves.toMatchObject({ userId: 'old' });
    clock.advance(1000);
    // The second container read less than the refresh interval ago: its cache still holds
    // secret-A as AWSPREVIOUS, yet the overlap is over.
    await expect(first(oldToken)).rejects.toThrow(refused);
    await expect(second(oldToken)).rejects.toThrow(refused);
    await expect(second(signToken({ sub: 'new' }, 'secret-B', 60, clock.seconds()))).resolves.toMatchObject({ userId: 'new' });
  });

  it('a container that read just before the rotation refuses new tokens only until the refresh interval', async () => {
    const clock = testClock();
    const client = secretsManager();
    const late = container(client, clock);
    await late(signToken({ sub: 'warm-up' }, 'secret-A', 60, clock.seconds()));
    clock.advance(1000);
    client.rotate('secret-B', new Date(clock.now()));
    const newToken = signToken({ sub: 'new' }, 'secret-B', 3600, clock.seconds());
    await expect(late(newToken)).rejects.toThrow(refused);
    clock.advance(REFRESH_MS - 1000);
    await expect(late(newToken)).resolves.toMatchObject({ userId: 'new' });
  });

  it('ends the overlap early when AWSPREVIOUS is removed (a leaked secret), within the cache expiry', async () => {
    const clock = testClock();
    const client = secretsManager();
    const [first, second] = [container(client, clock), container(client, clock)];
    const oldToken = signToken({ sub: 'old' }, 'secret-A', 3 * 86_400, clock.seconds());
    client.rotate('secret-B', new Date(clock.now()));
    await expect(first(oldToken)).resolves.toMatchObject({ userId: 'old' });
    await expect(second(oldToken)).resolves.toMatchObject({ userId: 'old' });
    client.removePrevious();
    clock.advance(TTL_MS);
    await expect(first(oldToken)).rejects.toThrow(refused);
    await expect(second(oldToken)).rejects.toThrow(refused);
  });

  it('refuses a forged token without reading Secrets Manager more than once per refresh interval', async () => {
    const clock = testClock();
    const client = secretsManager();
    const authorizer = container(client, clock);
    const forged = signToken({ sub: 'attacker', platform: true }, 'guessed', 60, clock.seconds());
    for (let i = 0; i < 20; i += 1) await expect(authorizer(forged)).rejects.toThrow(refused);
    expect(client.requests).toHaveLength(2);
  });
});
