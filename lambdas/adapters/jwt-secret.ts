import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

let cached: Promise<string> | undefined;

/**
 * The JWT signing secret: from Secrets Manager when `JWT_SECRET_ARN` is set (deployed), else
 * from `JWT_SECRET` (local stack, tests). Fetched once per container; a failed fetch is retried
 * on the next call instead of being cached.
 */
export function loadJwtSecret(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  cached ??= fetchSecret(env).catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function fetchSecret(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.JWT_SECRET_ARN) {
    const client = new SecretsManagerClient({});
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: env.JWT_SECRET_ARN }));
    if (!SecretString) throw new Error('JWT secret is empty');
    return SecretString;
  }
  if (env.JWT_SECRET) return env.JWT_SECRET;
  throw new Error('Neither JWT_SECRET_ARN nor JWT_SECRET is set');
}
