import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The one configured logger, metrics and tracer of every function (service name from env). */
export const logger = new Logger({ serviceName: 'tiledesk-webhooks' });
// Metrics' own warnings (e.g. an invocation that threw before adding any) go through the
// logger, so they are structured and follow the log level instead of a bare console line.
export const metrics = new Metrics({ namespace: 'TiledeskWebhooks', serviceName: 'tiledesk-webhooks', logger });
export const tracer = new Tracer({ serviceName: 'tiledesk-webhooks' });
