import * as z from 'zod';
import { API, DELIVERY_LANES } from './settings';
import { ATTEMPT_OUTCOMES, Attempt } from './attempt';
import type { HealthView } from './delivery-health';
import { TILEDESK_HISTORY_MAX_PAGE } from './history-page';
import { isPublishedEvent } from './event-catalog';
import { SUBSCRIPTION_STATUSES, SubscriptionView, idSchema } from './subscription';

/**
 * The HTTP API's shapes as zod schemas: the requests the handlers validate with, and the
 * answers they give. The OpenAPI document (`openapi-document.ts`) is generated from these,
 * so what is described is what is checked.
 */

/** Path parameters of every project route. */
export const pathSchema = z.object({ projectId: idSchema, id: idSchema.optional(), logId: idSchema.optional() });

/** Body of `POST .../recover`. */
export const recoverSchema = z.strictObject({
  since: z.iso.datetime({ offset: true, message: 'an ISO 8601 date-time, e.g. 2026-11-20T00:00:00Z' }),
  cursor: z
    .string()
    .regex(/^\d{14}-[0-9a-f]{10}$/, { message: "the nextCursor of the previous recover's answer" })
    .optional()
    .meta({ description: "Goes on from the previous answer's nextCursor (same since)" }),
});

/** Query of the logs and history listings. */
export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(API.logsPageSizeMax).default(API.logsPageSize),
  cursor: z.string().max(2048).optional(),
});

const notWithPage = z.undefined({ message: 'give either page (Tiledesk paging) or limit/cursor, not both' }).optional();

/** `?page=N`, Tiledesk's history paging; not mixed with our `limit`/`cursor`. */
export const tiledeskPageQuerySchema = z.object({
  page: z.coerce
    .number()
    .int()
    .min(0)
    .max(TILEDESK_HISTORY_MAX_PAGE, `at most ${TILEDESK_HISTORY_MAX_PAGE}; use limit and cursor to read further back`),
  limit: notWithPage,
  cursor: notWithPage,
});

/** Most events one `POST /{projectId}/events` may carry. */
const MAX_EVENTS_PER_REQUEST = 100;

/** One event of `POST /{projectId}/events`. */
export const publishedEventSchema = z.strictObject({
  event: z.string().min(1).refine(isPublishedEvent, 'not an event of the catalog that is published (operator.select is synchronous)'),
  payload: z.looseObject({ id_project: z.string().min(1).optional() }),
});
/** Several events in one `POST /{projectId}/events`. */
export const publishedListSchema = z.array(publishedEventSchema).min(1).max(MAX_EVENTS_PER_REQUEST);

/** The error body of every 4xx and 5xx the service itself answers (DESIGN §3). */
export const errorSchema = z.object({
  success: z.literal(false),
  msg: z.string().meta({ description: 'What went wrong, in words' }),
  errors: z
    .array(z.object({ field: z.string(), message: z.string() }))
    .optional()
    .meta({ description: 'One entry per offending field (400 only)' }),
});

/** A subscription's delivery health, read-only (circuit breaker, lane, last outcomes). */
export const healthSchema = z.object({
  circuit: z.enum(['closed', 'open', 'half-open']).meta({ description: 'open: deliveries wait; half-open: the next one is a probe' }),
  consecutiveFailures: z.number().int(),
  lane: z.enum(DELIVERY_LANES).meta({ description: 'slow: the subscriber answered slowly and is delivered apart' }),
  lastSuccessAt: z.string().optional(),
  lastFailureAt: z.string().optional(),
  openUntil: z.string().optional().meta({ description: 'When the open circuit lets its next probe through' }),
  held: z
    .array(
      z.object({
        reason: z.enum(['circuit-open', 'rate-limit']).meta({ description: 'What holds them: the open circuit, or the rate limit' }),
        count: z.number().int(),
        until: z.string().optional().meta({ description: 'When the last of them goes (the circuit: when its cool-down ends and they are released, paced)' }),
      }),
    )
    .optional()
    .meta({ description: 'Deliveries held now, by reason; absent when none are. DELETE …/health releases those of the circuit at once' }),
});

/** A subscription as the API shows it, with its delivery health; never carries the secret. */
export const subscriptionViewSchema = z.object({
  _id: z.string(),
  id_project: z.string(),
  event: z.string(),
  target: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  status: z.enum(SUBSCRIPTION_STATUSES),
  disabledReason: z.string().optional(),
  rateLimit: z.number().int().optional().meta({ description: 'Most deliveries per second; absent means unlimited' }),
  health: healthSchema,
});

/** Creation's answer: the only time, with rotation, the signing secret is shown. */
export const createdSubscriptionSchema = subscriptionViewSchema.extend({
  secret: z.string().meta({ description: 'Standard Webhooks secret (`whsec_…`); shown only now' }),
});

/** Rotation's answer: the new secret, and until when the previous one still signs. */
export const rotatedSubscriptionSchema = createdSubscriptionSchema.extend({
  previousSecretExpiresAt: z.string().optional(),
});

/** One delivery attempt as logged. */
export const attemptSchema = z.object({
  logId: z.string(),
  projectId: z.string(),
  subscriptionId: z.string(),
  webhookId: z.string(),
  eventId: z.string(),
  event: z.string(),
  target: z.string(),
  attempt: z.number().int().meta({ description: '1 for the first try; counts retries after' }),
  outcome: z.enum(ATTEMPT_OUTCOMES),
  statusCode: z.number().int().optional(),
  durationMs: z.number(),
  error: z.string().optional(),
  errorKind: z.string().optional(),
  responseBody: z.string().optional().meta({ description: 'Response body, truncated' }),
  attemptedAt: z.string(),
  nextAttemptAt: z.string().optional().meta({ description: 'When the next try is due, for a failed attempt that will be retried' }),
  payload: z.record(z.string(), z.unknown()).optional(),
  payloadOmitted: z.string().optional().meta({ description: 'Why the payload is not kept with this attempt' }),
});

/** A test ping's attempt: the same without its payload. */
export const testAttemptSchema = attemptSchema.omit({ payload: true });

/** A page of attempts, newest first. */
export const attemptPageSchema = z.object({
  items: z.array(attemptSchema),
  nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }),
});

/** `GET /events`. */
export const eventCatalogSchema = z.object({
  events: z.array(
    z.object({
      event: z.string(),
      description: z.string(),
      example: z.record(z.string(), z.unknown()).meta({ description: 'A payload of this event as a receiver gets it (its schema: the OpenAPI document’s webhooks)' }),
    }),
  ),
  refinements: z.array(z.object({ pattern: z.string(), base: z.string(), prefix: z.string(), description: z.string() })),
});

/** Body of `POST /{projectId}/events/example`. */
export const exampleRequestSchema = z.strictObject({
  event: z.string().min(1).meta({ description: 'A catalog event or a refinement; a refinement publishes its base event carrying its name', examples: ['request.create'] }),
});

/** `POST /{projectId}/events/example`'s answer: what was published. */
export const exampleResultSchema = z.object({
  success: z.literal(true),
  published: z.literal(1),
  event: z.string().meta({ description: 'The event published (a refinement’s base event)' }),
  payload: z.record(z.string(), z.unknown()),
});

/** `POST /{projectId}/events`' answer. */
export const publishResultSchema = z.object({
  success: z.literal(true),
  published: z.number().int(),
  claimChecked: z.number().int().meta({ description: 'Events over 256 KB whose payload was stored aside (S3) and is delivered whole' }),
});

/** `POST /tiledesk/ingest`'s answer to an event (operator.select is answered with the routing object). */
export const ingestResultSchema = z.object({
  success: z.literal(true),
  duplicate: z.literal(true).optional().meta({ description: 'Tiledesk retried a request already published: not published again' }),
});

export const recoverResultSchema = z.object({
  recovered: z.number().int(),
  webhookIds: z.array(z.string()),
  alreadyRecovered: z.number().int().meta({ description: 'Lost deliveries an earlier recover already sent again: not sent twice' }),
  unrecoverable: z
    .number()
    .int()
    .meta({ description: 'Lost deliveries whose payload was not kept (too large to log, or expired with its event): nothing could be sent' }),
  nextCursor: z
    .string()
    .nullable()
    .meta({ description: 'More attempts remain: call again with this cursor (and the same since); null when done' }),
});
export const retryResultSchema = z.object({ enqueued: z.number().int(), webhookId: z.string() });

/**
 * Compile-time guards: the answer schemas must describe exactly the core's types, so a field
 * added to a subscription or an attempt fails `tsc` until the document describes it too.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Same types and the same keys (optional fields would otherwise pass unnoticed). */
type Described<A, B> = Same<A, B> extends true ? Same<keyof A, keyof B> : false;
type Assert<T extends true> = T;
export type SubscriptionViewDescribed = Assert<Described<z.infer<typeof subscriptionViewSchema>, SubscriptionView & { health: HealthView }>>;
export type AttemptDescribed = Assert<Described<z.infer<typeof attemptSchema>, Attempt>>;
