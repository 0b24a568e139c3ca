#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ROLES, Role, signToken } from '../lambdas/core/token';

const USAGE = `Usage: npm run token -- --project <id> [--role owner|admin|agent] [--platform]
                       [--sub <user id>] [--ttl <seconds>] [--secret-arn <arn>]

Prints an HS256 API token. The signing secret is JWT_SECRET, or the deployed stack's secret
when --secret-arn (the JwtSecretArn output) is given; the local stack's default otherwise.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      project: { type: 'string', multiple: true },
      role: { type: 'string', default: 'owner' },
      platform: { type: 'boolean', default: false },
      sub: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      'secret-arn': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || (!values.project && !values.platform)) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  if (!ROLES.includes(values.role as Role)) {
    console.error(`--role must be one of ${ROLES.join(', ')}`);
    process.exit(2);
  }
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) {
    console.error('--ttl must be a positive number of seconds');
    process.exit(2);
  }
  const secret = await readSecret(values['secret-arn']);
  const projects = Object.fromEntries((values.project ?? []).map((id) => [id, values.role as Role]));
  const claims = {
    sub: values.sub ?? (values.platform ? 'tiledesk-platform' : 'cli-user'),
    ...(values.project ? { projects } : {}),
    ...(values.platform ? { platform: true } : {}),
  };
  console.log(signToken(claims, secret, ttl));
}

async function readSecret(secretArn: string | undefined): Promise<string> {
  if (secretArn) {
    const { SecretString } = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!SecretString) throw new Error('the secret is empty');
    return SecretString;
  }
  return process.env.JWT_SECRET ?? 'tiledesk-webhooks-local-secret';
}

main().catch((error: unknown) => {
  console.error(String(error));
  process.exit(1);
});
