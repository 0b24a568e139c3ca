import { ParseArgsConfig, parseArgs } from 'node:util';

/** A mistake of the person running a command: shown as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * Runs a command's `main`: a usage or configuration mistake prints its one line and exits 2,
 * any other failure prints one line (`DEBUG=1` adds the stack) and exits 1 — never a stack
 * trace that hides what to fix.
 */
export function runCli(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(oneLine(error));
    if (process.env.DEBUG && error instanceof Error && error.stack) console.error(error.stack);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}

/** The first line of an error's message, prefixed with `error: ` unless it is a usage mistake. */
export function oneLine(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim() || 'unknown error';
  if (error instanceof UsageError) return message;
  const setting = SDK_SETTING_MISTAKES.find(({ sdkSays }) => sdkSays.test(message));
  return setting ? setting.say : `error: ${message}`;
}

/** The AWS SDK's words for a missing setting, and the line that names it instead. */
const SDK_SETTING_MISTAKES = [
  { sdkSays: /^Region is missing/, say: 'no AWS region: export AWS_REGION (e.g. us-east-1), or use the queue URL the stack output gives' },
  {
    sdkSays: /^Could not load credentials from any providers/,
    say: 'no AWS credentials: export AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (against the local stack: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)',
  },
];

/**
 * `parseArgs` with one-line mistakes. A negative number after a value option (`--ttl -5`) is
 * taken as that option's value, so the option's own check can say what is wrong with it,
 * instead of parseArgs' "ambiguous" refusal.
 */
export function parseCliArgs<T extends ParseArgsConfig['options']>(
  options: T,
  args: string[] = process.argv.slice(2),
): ReturnType<typeof parseArgs<{ options: T; args: string[] }>> {
  refuseOptionsNpmTook(Object.keys(options ?? {}), args);
  const joined: string[] = [];
  for (let n = 0; n < args.length; n += 1) {
    const arg = args[n]!;
    const next = args[n + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name && options?.[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      n += 1;
    } else {
      joined.push(arg);
    }
  }
  try {
    return parseArgs({ options, args: joined });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (--help shows the usage)`);
  }
}

/**
 * `npm run receiver --secret x` (no `--`) hands `--secret` to npm, which keeps it as its own
 * setting (`npm_config_secret` in the script's environment) and passes only `x` on. Without this
 * check the command would say `--secret is required`, which the person just typed.
 */
function refuseOptionsNpmTook(names: readonly string[], args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const script = env.npm_lifecycle_event;
  if (!script) return;
  const taken = names.filter((name) => env[`npm_config_${name.replaceAll('-', '_')}`] !== undefined && !args.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`)));
  if (taken.length === 0) return;
  const flags = taken.map((name) => `--${name}`).join(', ');
  throw new UsageError(`npm kept ${flags} for itself: add -- before the command's options, e.g. npm run ${script} -- --${taken[0]} …`);
}

/** The region of an SQS queue URL (`https://sqs.<region>.amazonaws.com/…`), if it names one. */
function regionOfQueueUrl(queueUrl: string): string | undefined {
  return /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//.exec(queueUrl)?.[1];
}

/** An SQS client's settings as a tool needs them for one queue URL. */
export interface QueueClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The local stack's region and keys (any key works there; `npm start` prints these). */
const LOCAL_AWS = { region: 'us-east-1', accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The SQS client settings for a tool given a queue URL. An AWS queue URL gives its region. A
 * local stack's URL (loopback) needs no AWS variables: its origin is the endpoint, the region
 * and keys the local ones; whatever of these is exported (AWS_ENDPOINT_URL, AWS_REGION, the
 * keys) is kept.
 */
export function queueClientConfig(queueUrl: string, env: NodeJS.ProcessEnv = process.env): QueueClientConfig {
  const region = regionOfQueueUrl(queueUrl);
  if (region) return { region };
  let url: URL;
  try {
    url = new URL(queueUrl);
  } catch {
    throw new UsageError(`${queueUrl} is not a queue URL: use the stack output, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/…`);
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return {};
  const keys = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? undefined : { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey };
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || LOCAL_AWS.region,
    ...(env.AWS_ENDPOINT_URL ? {} : { endpoint: url.origin }),
    ...(keys ? { credentials: keys } : {}),
  };
}
