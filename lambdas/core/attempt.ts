import { randomBytes } from 'node:crypto';

/** What an attempt came to. */
export const ATTEMPT_OUTCOMES = ['delivered', 'failed', 'dead', 'unsubscribed', 'skipped'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One delivery attempt as logged and shown by the logs API. */
export interface Attempt {
  logId: string;
  projectId: string;
  subscriptionId: string;
  webhookId: string;
  eventId: string;
  event: string;
  target: string;
  /** 1 for the first try; counts retries after. */
  attempt: number;
  outcome: AttemptOutcome;
  statusCode?: number;
  durationMs: number;
  error?: string;
  errorKind?: string;
  /** Response body, truncated. */
  responseBody?: string;
  attemptedAt: string;
  /** When the next try is due, for a failed attempt that will be retried. */
  nextAttemptAt?: string;
  /** The event payload, kept for the log's lifetime so the delivery can be recovered or replayed. */
  payload?: Record<string, unknown>;
  /** Why the payload was not kept (too large for the log's item, or refused by DynamoDB). */
  payloadOmitted?: string;
}

/** A log id that sorts by time (newest last) and is safe in a URL path. */
export const newLogId = (at: Date): string => `${at.getTime().toString().padStart(14, '0')}-${randomBytes(5).toString('hex')}`;
