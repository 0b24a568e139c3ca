import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { limitCallsAtOnce } from './calls-at-once';

/** The one configured logger and metrics of every function (service name from env). */
export const logger = new Logger({ serviceName: 'tiledesk-webhooks' });
// Metrics' own warnings (e.g. an invocation that threw before adding any) go through the
// logger, so they are structured and follow the log level instead of a bare console line.
export const metrics = new Metrics({ namespace: 'TiledeskWebhooks', serviceName: 'tiledesk-webhooks', logger });

/**
 * X-Ray tracing with Powertools Tracer, only when `POWERTOOLS_TRACE_ENABLED` is `true` (the
 * stack sets it when deployed with `-c tracing=true`). The X-Ray SDK tracks every promise
 * through async hooks, which cost the delivery path about a tenth of its CPU, and loading it
 * adds to every cold start (BENCHMARKS.md); so it is loaded only then. The bundler replaces
 * the variable with its deployed value, so an untraced bundle does not even contain the SDK.
 */
export const tracer: Tracer | undefined = process.env.POWERTOOLS_TRACE_ENABLED === 'true' ? createTracer() : undefined;

function createTracer(): Tracer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
  const { Tracer: PowertoolsTracer } = require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
  return new PowertoolsTracer({ serviceName: 'tiledesk-webhooks' });
}

/**
 * An AWS SDK client as every function uses it: traced when tracing is on, with at most
 * `AWS_CALLS.callsAtOnce` calls under way (`calls-at-once.ts`), and without the SDK's
 * logger middleware. That middleware builds a redacted copy of every command's input and output
 * (walking the command's schema) for the client's logger, which by default discards it: ~1 % of
 * the delivery path's CPU, for nothing, as no client here is given a logger.
 */
export function sdkClient<T extends { middlewareStack: { remove(name: string): boolean } }>(client: T): T {
  client.middlewareStack.remove('loggerMiddleware');
  // At most AWS_CALLS.callsAtOnce calls under way, so none times out waiting for a socket.
  limitCallsAtOnce(client);
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/**
 * A Lambda handler with the service's middleware: tracing when on, the Lambda context in
 * every log line, and the invocation's metrics flushed at its end (`metrics: false` for
 * functions that record none).
 */
export function instrument<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
  options: { metrics?: boolean } = {},
) {
  const wrapped = middy(handler);
  if (tracer) wrapped.use(captureLambdaHandler(tracer));
  wrapped.use(injectLambdaContext(logger));
  if (options.metrics !== false) wrapped.use({ after: flushMetrics, onError: flushMetrics });
  return wrapped;
}

/**
 * Publishes the invocation's metrics, if it recorded any, and forgets its dimensions either way.
 * Powertools' own `logMetrics` warns "No application metrics to publish" on every invocation
 * that recorded none (a batch of wake-ups, a failed delivery): a log line billed on AWS and
 * noise in `npm start`'s terminal.
 */
function flushMetrics(): void {
  if (metrics.hasStoredMetrics()) {
    metrics.publishStoredMetrics();
    return;
  }
  metrics.clearDimensions();
  metrics.clearMetadata();
}
