import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The one configured logger, metrics and tracer of every function (service name from env). */
export const logger = new Logger({ serviceName: 'tiledesk-webhooks' });
export const metrics = new Metrics({ namespace: 'TiledeskWebhooks', serviceName: 'tiledesk-webhooks' });
export const tracer = new Tracer({ serviceName: 'tiledesk-webhooks' });
