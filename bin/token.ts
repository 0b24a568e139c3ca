#!/usr/bin/env node
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ROLES, Role, signToken } from '../lambdas/core/token';
import { regionOfArn } from '../lambdas/core/arn';
import { UsageError, parseCliArgs, runCli } from './cli';

const USAGE = `Usage: npm run token -- --project <id> [--role owner|admin|agent] [--platform]
                       [--sub <user id>] [--ttl <seconds>] [--secret-arn <arn>]

Prints an HS256 API token. The signing secret is JWT_SECRET, or the deployed stack's secret
when --secret-arn (the JwtSecretArn output) is given — read with your AWS credentials, in the
ARN's region; the local stack's default otherwise. When the deployment checks iss and aud
(JWT_ISSUER, JWT_AUDIENCE; context jwtIssuer, jwtAudience), the same variables set them here.`;

/** The local stack's default signing secret (bin/local-settings.ts). */
const LOCAL_DEFAULT_SECRET = 'tiledesk-webhooks-local-secret';

runCli(async () => {
  const { values } = parseCliArgs({
    project: { type: 'string', multiple: true },
    role: { type: 'string', default: 'owner' },
    platform: { type: 'boolean', default: false },
    sub: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    'secret-arn': { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.project && !values.platform) {
    throw new UsageError('--project <id> or --platform is required (--help shows the usage)');
  }
  if (!ROLES.includes(values.role as Role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}; got ${values.role}`);
  }
  const ttl = Number(values.ttl);
  if (!/^\d+$/.test(values.ttl) || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new UsageError(`--ttl must be a positive whole number of seconds, e.g. --ttl 3600; got ${values.ttl}`);
  }
  const secret = await readSecret(values['secret-arn']);
  const projects = Object.fromEntries((values.project ?? []).map((id) => [id, values.role as Role]));
  const claims = {
    sub: values.sub ?? (values.platform ? 'tiledesk-platform' : 'cli-user'),
    ...(values.project ? { projects } : {}),
    ...(values.platform ? { platform: true } : {}),
    ...(process.env.JWT_ISSUER ? { iss: process.env.JWT_ISSUER } : {}),
    ...(process.env.JWT_AUDIENCE ? { aud: process.env.JWT_AUDIENCE } : {}),
  };
  console.log(signToken(claims, secret, ttl));
});

async function readSecret(secretArn: string | undefined): Promise<string> {
  if (secretArn === undefined) return process.env.JWT_SECRET || LOCAL_DEFAULT_SECRET;
  const region = regionOfArn(secretArn);
  if (!region || !secretArn.includes(':secretsmanager:')) {
    throw new UsageError(`--secret-arn must be the stack's JwtSecretArn output (arn:aws:secretsmanager:<region>:…); got ${secretArn}`);
  }
  const { SecretString } = await new SecretsManagerClient({ region }).send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error(`the secret ${secretArn} is empty`);
  return SecretString;
}
