#!/usr/bin/env node
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY } from '../lambdas/core/settings';
import { signToken } from '../lambdas/core/token';
import { ensureConsoleBuilt } from '../lib/console-build';
import { lockDataDir } from '../local/data-dir-lock';
import { LocalStack, startLocalStack } from '../local/local-stack';
import { UsageError, runCli } from './cli';
import { LocalSettings, SettingsError, ingestEnabledBy, localStackOptions, readLocalSettings } from './local-settings';
import { createServer } from 'node:net';

/**
 * `npm start`: the local stack in the foreground (DESIGN §5). It stops, emulators included,
 * on SIGINT, SIGTERM and SIGHUP, and when the process that started it goes away (npm killed
 * outright), so no process is left holding the ports. A setting that cannot work stops it
 * before anything starts, with one line naming the variable and the fix.
 */
runCli(async () => {
  const settings = readSettings();
  const release = settings.dataDir ? lockOrExplain(settings.dataDir) : () => undefined;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'INFO';
  let stack: LocalStack;
  try {
    // A fresh clone has no console build (it is not committed): build it here rather than in
    // `npm ci`, so that a `git pull` that changes the console is picked up by the next start too.
    await ensureConsoleBuilt();
    // Synthesizing the template and starting the emulators takes 5–30 s; say so before the wait.
    console.log('starting the local stack (synthesizing the template, starting the emulators)…');
    stack = await startLocalStack({
      ...localStackOptions(settings),
      onError: (error) => console.error('[local-stack] event source error:', error),
      onThrottle: (throttle) => console.error(`[local-stack] ${throttle.message}`),
    });
  } catch (error) {
    release();
    throw await explainStartFailure(error, settings);
  }
  printBanner(stack, settings);
  stopOnSignalsAndOrphaning(stack, release);
});

function readSettings(): LocalSettings {
  try {
    return readLocalSettings();
  } catch (error) {
    throw error instanceof SettingsError ? new UsageError(error.message) : error;
  }
}

function lockOrExplain(dataDir: string): () => void {
  try {
    return lockDataDir(dataDir);
  } catch (error) {
    const { message } = error as Error;
    // The lock's own refusal names DATA_DIR; a file system error (a file, no permission) does not.
    throw new UsageError(message.startsWith('DATA_DIR') ? message : `DATA_DIR=${dataDir} cannot hold the data: ${message}; choose a folder you can write`);
  }
}

/**
 * A port already taken is a setting to change, said in one line, naming the other port too when
 * it is taken as well (another `npm start`, most likely); anything else is a failure.
 */
async function explainStartFailure(error: unknown, settings: LocalSettings): Promise<Error> {
  const { code, port } = error as NodeJS.ErrnoException & { port?: number };
  if (code === 'EADDRINUSE') {
    const [name, otherName, other] = port === settings.awsPort ? ['AWS_PORT', 'PORT', settings.port] : ['PORT', 'AWS_PORT', settings.awsPort];
    if (other !== 0 && !(await isFree(other))) {
      return new UsageError(
        `${name}=${port} and ${otherName}=${other} are in use by other processes (another npm start?): stop them, or set both to free ports (0 picks one)`,
      );
    }
    return new UsageError(`${name}=${port} is in use by another process: stop it, or set ${name} to a free port (0 picks one)`);
  }
  return new Error(`the local stack failed to start: ${(error as Error).message ?? String(error)}`);
}

/** Whether a port can be listened on (on loopback, where the stack listens). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function printBanner(stack: LocalStack, settings: LocalSettings): void {
  const project = settings.projectId;
  // Tokens carry the issuer and audience the authorizer then requires (JWT_ISSUER, JWT_AUDIENCE).
  const bound = {
    ...(process.env.JWT_ISSUER?.trim() ? { iss: process.env.JWT_ISSUER.trim() } : {}),
    ...(process.env.JWT_AUDIENCE?.trim() ? { aud: process.env.JWT_AUDIENCE.trim() } : {}),
  };
  const adminToken = signToken({ sub: 'local-admin', projects: { [project]: 'owner' }, ...bound }, settings.jwtSecret, 24 * 3600);
  const platformToken = signToken({ sub: 'tiledesk-platform', platform: true, ...bound }, settings.jwtSecret, 24 * 3600);
  console.log(
    [
      '',
      'tiledesk-webhooks local stack is up',
      `  API                 ${stack.apiUrl}`,
      `  AWS endpoint        ${stack.awsEndpoint}   (export AWS_ENDPOINT_URL=${stack.awsEndpoint})`,
      `  event bus           ${stack.busName}`,
      `  Tiledesk ingest     ${stack.apiUrl}/tiledesk/ingest   ${ingestState()}`,
      `  delivery DLQ        ${stack.queues.deliveryDlq.url}`,
      `  event rule DLQ      ${stack.queues.ruleDlq.url}`,
      `  JWT secret          ${settings.jwtSecretFromEnv ? '(from JWT_SECRET)' : '(default; set JWT_SECRET to change)'}`,
      `  Lambda concurrency  ${stack.lambdaLimits}`,
      `  deliveries          ${describeDeliveries(settings)}`,
      ...(settings.sqsDuplicateRate ? [`  SQS copies          ${settings.sqsDuplicateRate * 100} % of the messages at each queue come once more (SQS_DUPLICATE_RATE; receivers deduplicate on webhook-id)`] : []),
      `  data                ${settings.dataDir ? `table, queues and S3 objects kept in ${settings.dataDir}` : 'in memory'}`,
      '',
      `Admin token (owner of project "${project}", 24 h):`,
      `  export TOKEN=${adminToken}`,
      'Platform token (24 h):',
      `  export PLATFORM_TOKEN=${platformToken}`,
      '',
      'Web console (the link signs in as the admin; the #fragment never leaves the browser):',
      `  ${stack.apiUrl}/console#token=${adminToken}&project=${encodeURIComponent(project)}`,
      '',
      `Try: curl -s -H "Authorization: Bearer $TOKEN" ${stack.apiUrl}/${project}/subscriptions`,
      'Ctrl-C stops.',
      '',
    ].join('\n'),
  );
}

/** The retry schedule and timeout in force, and the settings that change them. */
function describeDeliveries(settings: Pick<LocalSettings, 'retrySchedule' | 'deliveryTimeoutMs'>): string {
  const schedule = settings.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
  const timeoutMs = settings.deliveryTimeoutMs ?? DELIVERY.timeoutMs;
  return `retried after ${schedule.join(', ')} s (RETRY_SCHEDULE), then the DLQ; ${timeoutMs} ms to answer (DELIVERY_TIMEOUT_MS)`;
}

/**
 * Stops the stack once, on the first of: SIGINT, SIGTERM, SIGHUP (terminal closed), or the
 * parent process going away (npm killed with SIGKILL: its signals never arrive, but this
 * process is re-parented). A second signal while stopping exits at once; the emulators still
 * end, as they exit when this process's end of their stdin closes.
 */
function stopOnSignalsAndOrphaning(stack: LocalStack, release: () => void): void {
  // With the terminal closed or the parent gone, writing fails with EPIPE: that must not stop the stop.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${reason}: stopping the local stack…`);
    stack
      .stop()
      .then(() => {
        release();
        process.exit(0);
      })
      .catch((error: unknown) => {
        console.error(`error: the local stack did not stop cleanly: ${(error as Error).message}`);
        process.exit(1);
      });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(`the parent process (pid ${parent}) exited`);
  }, 1000).unref();
}

/** Whether ingest takes requests: it is on once a Tiledesk key is set (checked with its hook secret). */
function ingestState(): string {
  return ingestEnabledBy(process.env) ? '(on; docs/tiledesk-compatibility.md)' : '(off: set TILEDESK_GLOBAL_SECRET and TILEDESK_INGEST_HOOK_SECRET; docs/tiledesk-compatibility.md)';
}
