#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { REQUEST_LIMITS, parseOrigins } from '../lambdas/core/settings';
import { RequestLimit, parseRequestLimit } from '../lambdas/core/request-limit';
import { WebhooksStack } from '../lib/webhooks-stack';

/** Exported for the CDK Template test of the context settings. */
export const app = new App();

/**
 * The stack from the context. A setting that cannot work ends `cdk synth`/`deploy` with one
 * line naming it (no stack trace); imported by tests, the error is thrown to them instead.
 */
function defineStack(target: App): void {
  const context = (key: string): unknown => target.node.tryGetContext(key);
  /** A per-tenant request limit from its context key (`<rate>,<burst>`), or the default. */
  const requestLimit = (limit: (typeof REQUEST_LIMITS)[keyof typeof REQUEST_LIMITS]): RequestLimit | undefined => {
    const raw = context(limit.context);
    return raw === undefined ? undefined : parseRequestLimit(limit.context, String(raw), limit.defaults);
  };
  const signInKey = ['tiledeskJwtSecretArn', 'tiledeskJwtPublicKey'].find((key) => context(key));
  if (signInKey && !context('tiledeskApiUrl')) {
    throw new Error(`tiledeskApiUrl is required when ${signInKey} is set: Tiledesk sign-in asks Tiledesk's API for each user's roles`);
  }
  new WebhooksStack(target, String(context('stackName') ?? 'TiledeskWebhooks'), {
    description: 'tiledesk-webhooks: Tiledesk REST hooks with signed deliveries, retries and a DLQ',
    allowHttpTargets: context('allowHttpTargets') === true || context('allowHttpTargets') === 'true',
    targetAllowlist: String(context('targetAllowlist') ?? ''),
    subscriptionLimit: Number(context('subscriptionLimit') ?? 100),
    busName: String(context('busName') ?? 'tiledesk'),
    existingBus: context('existingBus') ? String(context('existingBus')) : undefined,
    retrySchedule: context('retrySchedule') ? String(context('retrySchedule')).split(',').map(Number) : undefined,
    deliveryTimeoutMs: context('deliveryTimeoutMs') ? Number(context('deliveryTimeoutMs')) : undefined,
    attemptLogRetentionDays: context('attemptLogRetentionDays') ? Number(context('attemptLogRetentionDays')) : undefined,
    operatorSelectTimeoutMs: context('operatorSelectTimeoutMs') ? Number(context('operatorSelectTimeoutMs')) : undefined,
    testPingTimeoutMs: context('testPingTimeoutMs') ? Number(context('testPingTimeoutMs')) : undefined,
    circuitCooldownSeconds: context('circuitCooldownSeconds') ? Number(context('circuitCooldownSeconds')) : undefined,
    alarmTopicArn: context('alarmTopicArn') ? String(context('alarmTopicArn')) : undefined,
    apiThrottle: {
      burstLimit: context('apiThrottleBurst') ? Number(context('apiThrottleBurst')) : undefined,
      rateLimit: context('apiThrottleRate') ? Number(context('apiThrottleRate')) : undefined,
    },
    ingestThrottle: {
      burstLimit: context('ingestThrottleBurst') ? Number(context('ingestThrottleBurst')) : undefined,
      rateLimit: context('ingestThrottleRate') ? Number(context('ingestThrottleRate')) : undefined,
    },
    jwksUrl: context('jwksUrl') ? String(context('jwksUrl')) : undefined,
    jwtIssuer: context('jwtIssuer') ? String(context('jwtIssuer')) : undefined,
    jwtAudience: context('jwtAudience') ? String(context('jwtAudience')) : undefined,
    tiledeskSignIn: context('tiledeskApiUrl')
      ? {
          apiUrl: String(context('tiledeskApiUrl')),
          jwtSecretArn: context('tiledeskJwtSecretArn') ? String(context('tiledeskJwtSecretArn')) : undefined,
          jwtPublicKey: context('tiledeskJwtPublicKey') ? String(context('tiledeskJwtPublicKey')) : undefined,
        }
      : undefined,
    tiledeskIngest: {
      globalSecretArn: context('tiledeskGlobalSecretArn') ? String(context('tiledeskGlobalSecretArn')) : undefined,
      globalPublicKey: context('tiledeskGlobalPublicKey') ? String(context('tiledeskGlobalPublicKey')) : undefined,
      hookSecretArn: context('tiledeskHookSecretArn') ? String(context('tiledeskHookSecretArn')) : undefined,
      sourceAllowlist: context('tiledeskIngestSourceAllowlist') ? String(context('tiledeskIngestSourceAllowlist')) : undefined,
      tokenMaxAgeSeconds: context('ingestTokenMaxAgeSeconds') ? Number(context('ingestTokenMaxAgeSeconds')) : undefined,
    },
    projectApiLimit: requestLimit(REQUEST_LIMITS.projectApi),
    projectEventsLimit: requestLimit(REQUEST_LIMITS.projectEvents),
    ingestSourceLimit: requestLimit(REQUEST_LIMITS.ingestSource),
    corsOrigins: parseOrigins(context('corsOrigins') ? String(context('corsOrigins')) : undefined),
    tracing: context('tracing') === true || context('tracing') === 'true',
    webhookOrigin: context('webhookOrigin') ? String(context('webhookOrigin')) : undefined,
  });
}

try {
  // Every setting is checked before any function is bundled: the stack is first defined without
  // bundling (about a second), so a mistake is refused at once, not after ~25 s of bundling.
  defineStack(new App({ autoSynth: false, postCliContext: { [BUNDLING_STACKS]: [] } }));
  defineStack(app);
} catch (error) {
  if (require.main !== module) throw error;
  console.error((error as Error).message);
  process.exit(2);
}
