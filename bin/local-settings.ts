import * as z from 'zod';
import { parseAllowlist } from '../lambdas/core/address-policy';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, REQUEST_LIMITS, checkRetrySchedule, parseOrigins } from '../lambdas/core/settings';
import { parseSourceAllowlist } from '../lambdas/core/ingest-source';
import { RequestLimit, parseRequestLimit } from '../lambdas/core/request-limit';
import { timeoutProblem } from '../lib/timeout-budget';
import type { LocalStackOptions } from '../local/local-stack';
import { publicKeyProblem } from '../lambdas/core/tiledesk-token';

/** The local stack's default token signing secret; `JWT_SECRET` replaces it. */
export const LOCAL_DEFAULT_JWT_SECRET = 'tiledesk-webhooks-local-secret';

/**
 * A setting read from one environment variable: empty counts as unset; `parse` returns the
 * value, or throws a message that says what the value should be.
 */
function setting<T>(parse: (raw: string) => T) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T | undefined => {
      if (raw === undefined || raw.trim() === '') return undefined;
      try {
        return parse(raw.trim());
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message, input: raw });
        return z.NEVER;
      }
    });
}

const port = setting((raw) => {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535) throw new Error('use a port number from 0 to 65535 (0 picks a free port)');
  return value;
});

const wholeNumber = (what: string) =>
  setting((raw) => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`use ${what}`);
    return Number(raw);
  });

const schema = z.object({
  PORT: port,
  AWS_PORT: port,
  JWT_SECRET: setting((raw) => raw),
  DATA_DIR: setting((raw) => raw),
  RETRY_SCHEDULE: setting((raw) => {
    if (!/^\d+(\s*,\s*\d+)*$/.test(raw)) throw new Error(`use comma-separated whole seconds, e.g. ${DEFAULT_RETRY_SCHEDULE_SECONDS.join(',')}`);
    const schedule = raw.split(',').map((part) => Number(part.trim()));
    checkRetrySchedule(schedule);
    return schedule;
  }),
  DELIVERY_TIMEOUT_MS: wholeNumber('whole milliseconds, e.g. 10000'),
  OPERATOR_SELECT_TIMEOUT_MS: wholeNumber('whole milliseconds, e.g. 5000'),
  TEST_PING_TIMEOUT_MS: wholeNumber('whole milliseconds, e.g. 5000'),
  AUTO_DISABLE_AFTER_DEAD: wholeNumber('a whole number of dead deliveries, e.g. 5'),
  // Unset keeps the local default (loopback); set but empty means no exceptions, as on AWS.
  TARGET_ALLOWLIST: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      try {
        parseAllowlist(raw);
        return raw;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `use comma-separated CIDRs and host names (${(error as Error).message})`, input: raw });
        return z.NEVER;
      }
    }),
  WEBHOOK_ORIGIN: setting((raw) => {
    if (!/^https?:\/\/[^\s/]+$/.test(raw)) throw new Error('use an origin, scheme and host without a path, e.g. https://tiledesk.example.com');
    return raw;
  }),
  CORS_ORIGINS: setting((raw) => {
    const origins = parseOrigins(raw);
    const bad = origins.find((origin) => !/^https?:\/\/[^\s/]+$/.test(origin));
    if (bad) throw new Error(`use comma-separated origins, scheme and host without a path, e.g. https://console.tiledesk.com (not ${bad})`);
    return origins;
  }),
  TILEDESK_INGEST_SOURCE_ALLOWLIST: setting((raw) => {
    parseSourceAllowlist(raw);
    return raw;
  }),
  INGEST_TOKEN_MAX_AGE_SECONDS: wholeNumber('whole seconds, e.g. 300'),
  SQS_DUPLICATE_RATE: setting((raw) => {
    const rate = Number(raw);
    if (!/^(0|1|0?\.\d+)$/.test(raw.trim()) || !(rate >= 0 && rate <= 1)) throw new Error('use a share from 0 to 1, e.g. 0.05');
    return rate;
  }),
  PROJECT_ID: setting((raw) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new Error('use letters, digits, - and _ (at most 64), e.g. demo-project');
    return raw;
  }),
});

/** What `npm start` runs with, read and checked once. */
export type LocalSettings = Pick<LocalStackOptions, SettingFromEnvironment> & {
  port: number;
  awsPort: number;
  jwtSecret: string;
  jwtSecretFromEnv: boolean;
  /** The project the banner's admin token owns. */
  projectId: string;
};

/**
 * The stack options `npm start` reads from the environment. The settings are those options
 * themselves (the type above), so a setting read is a setting passed: five documented ones were
 * once read and never given to the stack.
 */
type SettingFromEnvironment =
  | 'dataDir'
  | 'retrySchedule'
  | 'deliveryTimeoutMs'
  | 'operatorSelectTimeoutMs'
  | 'testPingTimeoutMs'
  | 'autoDisableAfterDead'
  | 'targetAllowlist'
  | 'webhookOrigin'
  | 'corsOrigins'
  | 'ingestTokenMaxAgeSeconds'
  | 'sqsDuplicateRate'
  | 'projectApiLimit'
  | 'projectEventsLimit'
  | 'ingestSourceLimit';

/** A setting that cannot work: its message is one line naming the variable and the fix. */
export class SettingsError extends Error {}

/** Set and not blank, directly or as a Secrets Manager ARN (`<NAME>_ARN`), as the functions read it. */
const isSet = (env: NodeJS.ProcessEnv, name: string): boolean => Boolean(env[name]?.trim() || env[`${name}_ARN`]?.trim());

/** The Tiledesk key that turns ingest on (either one, or its `_ARN`), if one is set. */
export const ingestEnabledBy = (env: NodeJS.ProcessEnv): string | undefined =>
  ['TILEDESK_GLOBAL_SECRET', 'TILEDESK_GLOBAL_PUBLIC_KEY'].find((name) => isSet(env, name));

/**
 * Ingest is on as soon as either Tiledesk key is set, and then the global subscriptions'
 * secret must be too: without it the `x-hook-secret` check would be skipped.
 */
function checkIngestSettings(env: NodeJS.ProcessEnv): void {
  const enabledBy = ingestEnabledBy(env);
  if (enabledBy && !isSet(env, 'TILEDESK_INGEST_HOOK_SECRET')) {
    throw new SettingsError(
      `TILEDESK_INGEST_HOOK_SECRET is required when Tiledesk ingest is enabled (${enabledBy} is set): ` +
        "set it to the secret of Tiledesk's global subscriptions (their x-hook-secret)",
    );
  }
}

/**
 * Tiledesk's public keys must parse (the functions read them at cold start, and would fail every
 * request), and sign-in with Tiledesk's tokens needs Tiledesk's API, which it asks for roles.
 */
function checkTiledeskKeys(env: NodeJS.ProcessEnv): void {
  for (const name of ['TILEDESK_GLOBAL_PUBLIC_KEY', 'TILEDESK_JWT_PUBLIC_KEY']) {
    const problem = env[name]?.trim() ? publicKeyProblem(env[name]) : undefined;
    if (problem) throw new SettingsError(`${name} is not a usable public key (${problem}): give the PEM with \\n escapes or real newlines`);
  }
  const signInKey = ['TILEDESK_JWT_SECRET', 'TILEDESK_JWT_PUBLIC_KEY'].find((name) => isSet(env, name));
  if (signInKey && !env.TILEDESK_API_URL?.trim()) {
    throw new SettingsError(`TILEDESK_API_URL is required when ${signInKey} is set: Tiledesk sign-in asks Tiledesk's API for each user's roles`);
  }
}

/**
 * A request limit's setting (`PROJECT_API_LIMIT`, …): unset or blank keeps the stack's default.
 * It goes to the stack as a prop, since the template sets every limit for the functions.
 */
function requestLimit(env: NodeJS.ProcessEnv, limit: (typeof REQUEST_LIMITS)[keyof typeof REQUEST_LIMITS]): RequestLimit | undefined {
  const raw = env[limit.setting];
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return parseRequestLimit(limit.setting, raw, limit.defaults);
  } catch (error) {
    throw new SettingsError((error as Error).message);
  }
}

/**
 * Reads the local stack's environment variables (docs/configuration.md). Throws a
 * {@link SettingsError} naming the first bad variable, its value and what to use instead.
 */
export function readLocalSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const shown = name === 'JWT_SECRET' ? '' : `=${String(env[name])}`;
    throw new SettingsError(`${name}${shown} is not valid: ${issue.message}`);
  }
  const settings = parsed.data;
  checkIngestSettings(env);
  checkTiledeskKeys(env);
  const [projectApiLimit, projectEventsLimit, ingestSourceLimit] = [REQUEST_LIMITS.projectApi, REQUEST_LIMITS.projectEvents, REQUEST_LIMITS.ingestSource].map(
    (limit) => requestLimit(env, limit),
  );
  const timeouts = timeoutProblem(
    {
      deliveryTimeoutMs: settings.DELIVERY_TIMEOUT_MS,
      operatorSelectTimeoutMs: settings.OPERATOR_SELECT_TIMEOUT_MS,
      testPingTimeoutMs: settings.TEST_PING_TIMEOUT_MS,
    },
    { deliveryTimeoutMs: 'DELIVERY_TIMEOUT_MS', operatorSelectTimeoutMs: 'OPERATOR_SELECT_TIMEOUT_MS', testPingTimeoutMs: 'TEST_PING_TIMEOUT_MS' },
  );
  if (timeouts) throw new SettingsError(timeouts);
  const apiPort = settings.PORT ?? 3000;
  const awsPort = settings.AWS_PORT ?? 4566;
  if (settings.SQS_DUPLICATE_RATE && settings.DATA_DIR) {
    throw new SettingsError('SQS_DUPLICATE_RATE cannot be used with DATA_DIR: copies of messages are not kept across restarts');
  }
  if (apiPort !== 0 && apiPort === awsPort) {
    throw new SettingsError(`PORT and AWS_PORT are both ${apiPort}: give them different ports (0 picks a free one)`);
  }
  return {
    port: apiPort,
    awsPort,
    jwtSecret: settings.JWT_SECRET ?? LOCAL_DEFAULT_JWT_SECRET,
    jwtSecretFromEnv: settings.JWT_SECRET !== undefined,
    dataDir: settings.DATA_DIR,
    retrySchedule: settings.RETRY_SCHEDULE,
    deliveryTimeoutMs: settings.DELIVERY_TIMEOUT_MS,
    operatorSelectTimeoutMs: settings.OPERATOR_SELECT_TIMEOUT_MS,
    autoDisableAfterDead: settings.AUTO_DISABLE_AFTER_DEAD,
    targetAllowlist: settings.TARGET_ALLOWLIST,
    webhookOrigin: settings.WEBHOOK_ORIGIN,
    corsOrigins: settings.CORS_ORIGINS,
    testPingTimeoutMs: settings.TEST_PING_TIMEOUT_MS,
    ingestTokenMaxAgeSeconds: settings.INGEST_TOKEN_MAX_AGE_SECONDS,
    sqsDuplicateRate: settings.SQS_DUPLICATE_RATE,
    projectApiLimit,
    projectEventsLimit,
    ingestSourceLimit,
    projectId: settings.PROJECT_ID ?? 'demo-project',
  };
}

/**
 * The local stack's options for these settings: every setting the template also sets for the
 * functions goes through a stack prop, since the template's value would replace one read from
 * this environment. (Tiledesk's keys and the ingest source allowlist are absent from the
 * template unless given, so the functions read them from the environment.)
 */
export function localStackOptions(settings: LocalSettings): LocalStackOptions {
  // The banner's alone; every other setting is a stack option.
  const { jwtSecretFromEnv, projectId, ...options } = settings;
  return options;
}
