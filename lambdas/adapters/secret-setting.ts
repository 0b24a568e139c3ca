import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { regionOfArn } from '../core/arn';
import { SDK_CLIENT_CONFIG } from './sdk-config';

const cache = new Map<string, Promise<string | undefined>>();

/**
 * A secret setting `NAME`: from Secrets Manager when `NAME_ARN` is set (deployed), else from
 * the variable `NAME` itself (local stack, tests), `undefined` when neither is set. Fetched
 * once per container; a failed fetch is tried again on the next call instead of being kept.
 */
export function loadSecretSetting(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  let loading = cache.get(name);
  if (!loading) {
    loading = fetchSetting(name, env).catch((error: unknown) => {
      cache.delete(name);
      throw error;
    });
    cache.set(name, loading);
  }
  return loading;
}

/** True when the setting is configured at all, without fetching it. */
export const hasSecretSetting = (name: string, env: NodeJS.ProcessEnv = process.env): boolean =>
  Boolean(env[`${name}_ARN`]?.trim() || env[name]?.trim());

const clients = new Map<string, SecretsManagerClient>();

/**
 * A Secrets Manager client in the secret's own region: GetSecretValue answers only for secrets of
 * the region it is sent to, even when given a full ARN, and an operator's secret (a Tiledesk
 * key) may live elsewhere than the stack. Without a region in the ARN, the function's own.
 */
export function secretsClientFor(arn: string): SecretsManagerClient {
  const region = regionOfArn(arn);
  const key = region ?? '';
  let client = clients.get(key);
  if (!client) {
    client = new SecretsManagerClient({ ...SDK_CLIENT_CONFIG, ...(region ? { region } : {}) });
    clients.set(key, client);
  }
  return client;
}

async function fetchSetting(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const arn = env[`${name}_ARN`]?.trim();
  if (arn) {
    const { SecretString } = await secretsClientFor(arn).send(new GetSecretValueCommand({ SecretId: arn }));
    if (!SecretString) throw new Error(`secret ${name} is empty`);
    return SecretString;
  }
  return env[name]?.trim() || undefined;
}
