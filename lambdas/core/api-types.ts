/**
 * The subscription API's answers as types, shared by the functions that give them and the web
 * console that reads them (`console/src/api.ts`), so the two cannot drift apart. Types and plain
 * constant lists only: the console's bundle and its browser type check (`tsc -p console`) load
 * this file, so it imports nothing that needs Node (no `node:` modules, no zod, no AWS SDK).
 * The zod schemas that validate and document the same shapes live in `api-schemas.ts`, which
 * asserts they agree with these.
 */
import type { HealthView } from './delivery-health';

/** What an attempt came to. */
export const ATTEMPT_OUTCOMES = ['delivered', 'failed', 'dead', 'unsubscribed', 'skipped'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export const SUBSCRIPTION_STATUSES = ['active', 'disabled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export type { CircuitView, HealthView } from './delivery-health';

/** A subscription as the API shows it (DESIGN §3); never carries the secret. */
export interface SubscriptionView {
  _id: string;
  id_project: string;
  event: string;
  target: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  status: SubscriptionStatus;
  disabledReason?: string;
  /** Most deliveries per second to this target; absent means unlimited. */
  rateLimit?: number;
}

/**
 * A subscription in an API answer: with its delivery health, and its secret only in the answer
 * of a creation or a rotation.
 */
export interface SubscriptionAnswer extends SubscriptionView {
  health?: HealthView;
  secret?: string;
  /** While a rotated-out secret still signs deliveries. */
  previousSecretExpiresAt?: string;
}

/** Body of `PUT /{projectId}/subscriptions/{id}` (validated by `updateSubscriptionSchema`). */
export interface SubscriptionUpdate {
  event?: string;
  target?: string;
  status?: SubscriptionStatus;
  /** `null` removes the limit. */
  rateLimit?: number | null;
}

/** One delivery attempt as logged and shown by the logs API. */
export interface Attempt {
  logId: string;
  projectId: string;
  subscriptionId: string;
  /** The message id a receiver deduplicates on (`webhook-id`): `msg_<eventId>_<subscriptionId>`. */
  webhookId: string;
  /** The published event's id, the same for every subscription it was delivered to. */
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

/** A page of attempts, newest first; `nextCursor` null on the last page. */
export interface AttemptPage {
  items: Attempt[];
  nextCursor: string | null;
}

/** `POST …/recover`'s answer: one page of the attempts since `since` (follow `nextCursor`). */
export interface RecoverAnswer {
  recovered: number;
  webhookIds: string[];
  /** Lost deliveries an earlier recover already sent again. */
  alreadyRecovered: number;
  /** Lost deliveries whose payload was not kept: nothing could be sent. */
  unrecoverable: number;
  nextCursor: string | null;
}

/** `GET /events`: the catalog, its refinements, and an example payload of each event. */
export interface EventCatalogAnswer {
  events: { event: string; description: string; example: Record<string, unknown> }[];
  refinements: { pattern: string; base: string; prefix: string; description: string }[];
}

/** `POST /{projectId}/events/example`'s answer: the event published and its payload. */
export interface ExampleAnswer {
  success: true;
  published: 1;
  event: string;
  payload: Record<string, unknown>;
}

/** A field the API refused, in a 400 answer. */
export interface FieldError {
  field: string;
  message: string;
}

/** Every error answer: `{success: false, msg, errors?}`. */
export interface ErrorAnswer {
  success: false;
  msg: string;
  errors?: FieldError[];
}
