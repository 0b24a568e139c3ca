#!/usr/bin/env node
import { signToken } from '../lambdas/core/token';
import { startLocalStack } from '../lib/local/local-stack';

/** `npm start`: the local stack in the foreground until Ctrl-C (DESIGN §5). */
async function main(): Promise<void> {
  const env = process.env;
  const secretSource = env.JWT_SECRET ? '(from JWT_SECRET)' : '(default; set JWT_SECRET to change)';
  const jwtSecret = env.JWT_SECRET ?? 'tiledesk-webhooks-local-secret';
  const retrySchedule = env.RETRY_SCHEDULE?.split(',').map((part) => Number(part.trim()));
  env.POWERTOOLS_LOG_LEVEL ??= 'INFO';
  const stack = await startLocalStack({
    port: Number(env.PORT ?? 3000),
    awsPort: Number(env.AWS_PORT ?? 4566),
    jwtSecret,
    dataDir: env.DATA_DIR || undefined,
    retrySchedule,
    deliveryTimeoutMs: env.DELIVERY_TIMEOUT_MS ? Number(env.DELIVERY_TIMEOUT_MS) : undefined,
    operatorSelectTimeoutMs: env.OPERATOR_SELECT_TIMEOUT_MS ? Number(env.OPERATOR_SELECT_TIMEOUT_MS) : undefined,
    autoDisableAfterDead: env.AUTO_DISABLE_AFTER_DEAD ? Number(env.AUTO_DISABLE_AFTER_DEAD) : undefined,
    targetAllowlist: env.TARGET_ALLOWLIST,
    webhookOrigin: env.WEBHOOK_ORIGIN || undefined,
    onError: (error) => console.error('[local-stack] event source error:', error),
  });
  const project = env.PROJECT_ID ?? 'demo-project';
  const adminToken = signToken({ sub: 'local-admin', projects: { [project]: 'owner' } }, jwtSecret, 24 * 3600);
  const platformToken = signToken({ sub: 'tiledesk-platform', platform: true }, jwtSecret, 24 * 3600);
  console.log(
    [
      '',
      'tiledesk-webhooks local stack is up',
      `  API                 ${stack.apiUrl}`,
      `  AWS endpoint        ${stack.awsEndpoint}   (export AWS_ENDPOINT_URL=${stack.awsEndpoint})`,
      `  event bus           ${stack.busName}`,
      `  delivery DLQ        ${stack.queues.deliveryDlq.url}`,
      `  JWT secret          ${secretSource}`,
      `  data                ${env.DATA_DIR ? `DynamoDB kept in ${env.DATA_DIR}` : 'in memory'}`,
      '',
      `Admin token (owner of project "${project}", 24 h):`,
      `  export TOKEN=${adminToken}`,
      'Platform token (24 h):',
      `  export PLATFORM_TOKEN=${platformToken}`,
      '',
      `Try: curl -s -H "Authorization: Bearer $TOKEN" ${stack.apiUrl}/${project}/subscriptions`,
      'Ctrl-C stops.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local stack…`);
    stack
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('local stack failed to start:', error);
  process.exit(1);
});
