import * as z from 'zod';
import { DELIVERY, PUBLISH_EVENTS_ROUTE, PUBLISH_EXAMPLE_ROUTE, REQUEST_LIMITS, TILEDESK_INGEST, TILEDESK_INGEST_ROUTE } from '../core/settings';
import { isAllowedSource, parseSourceAllowlist, plainAddress, sourceLimitKey } from '../core/ingest-source';
import { parseRequestLimit } from '../core/request-limit';
import { parseAllowlist } from '../core/address-policy';
import { OPERATOR_SELECT_EVENT } from '../core/event-catalog';
import { ForbiddenError, NotFoundError, PayloadTooLargeError, TooManyRequestsError, UnauthenticatedError, ValidationError, isAwsBusy } from '../core/errors';
import { CLAIM_CHECK_FIELD, TiledeskEvent, reservedFieldsIn } from '../core/claim-check';
import { idSchema } from '../core/subscription';
import { RoutingRequest, routingRequestSchema } from '../core/operator-select';
import { IngestSettings, IngestedEvent, ROUTING_BODY_MAX_BYTES, readIngestRequest, routingOverSourceLimit } from '../core/tiledesk-ingest';
import { readPublicKey } from '../core/tiledesk-token';
import { AttemptLogStore } from '../adapters/attempt-log-store';
import { createClaimCheckStore } from '../adapters/claim-check-store';
import { readConfig } from '../adapters/config';
import { publishTiledeskEvents } from '../adapters/event-publisher';
import { IngestDedupeStore } from '../adapters/ingest-dedupe-store';
import { RequestLimitStore } from '../adapters/request-limit-store';
import { instrument, logger, metrics } from '../adapters/observability';
import { operatorSelectRouter } from '../adapters/operator-select-router';
import { loadSecretSetting } from '../adapters/secret-setting';
import { SubscriptionStore } from '../adapters/subscription-store';
import { postWebhook } from '../adapters/webhook-client';
import { ApiEvent, ApiResult, assertCanManage, errorResponse, jsonResponse, parseWith, principalOf, unavailableResponse } from './http-response';
import { exampleRequestSchema, publishedEventSchema, publishedListSchema } from '../core/api-schemas';
import { exampleEventFor } from '../core/event-payloads';

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    EVENT_BUS_NAME: z.string().min(1),
    /** Where events over 256 KB are stored aside; without it they are refused. */
    CLAIM_CHECK_BUCKET: z.string().optional(),
    /** RS256: the public key of Tiledesk's `GLOBAL_SECRET_OR_PRIVATE_KEY` (PEM, `\n` escapes allowed). */
    TILEDESK_GLOBAL_PUBLIC_KEY: z.string().optional(),
    /** How long a Tiledesk request's retries are recognised. */
    INGEST_DEDUPE_SECONDS: z.coerce.number().int().positive().default(600),
    TARGET_ALLOWLIST: z.string().optional(),
    /** The `origin` header of the operator.select hook's POST, as every webhook's. */
    WEBHOOK_ORIGIN: z.string().min(1),
    OPERATOR_SELECT_TIMEOUT_MS: z.coerce.number().int().positive().default(DELIVERY.operatorSelectTimeoutMs),
    /** How long the operator.select attempts it logs are kept, as every function's attempts. */
    ATTEMPT_LOG_TTL_DAYS: z.coerce.number().int().positive().default(DELIVERY.attemptLogTtlDays),
    /** How old a Tiledesk token's `iat` may be. */
    INGEST_TOKEN_MAX_AGE_SECONDS: z.coerce.number().int().positive().default(TILEDESK_INGEST.tokenMaxAgeSeconds),
    /** Tiledesk's egress addresses (CIDRs); unset: any source. */
    TILEDESK_INGEST_SOURCE_ALLOWLIST: z.string().optional(),
    [REQUEST_LIMITS.ingestSource.setting]: z.string().optional(),
    [REQUEST_LIMITS.projectEvents.setting]: z.string().optional(),
  }),
);

const publicKey = config.TILEDESK_GLOBAL_PUBLIC_KEY?.trim() ? readPublicKey(config.TILEDESK_GLOBAL_PUBLIC_KEY) : undefined;
const dedupe = new IngestDedupeStore(config.TABLE_NAME, config.INGEST_DEDUPE_SECONDS);
const claimChecks = config.CLAIM_CHECK_BUCKET ? createClaimCheckStore(config.CLAIM_CHECK_BUCKET) : undefined;
const subscriptions = new SubscriptionStore(config.TABLE_NAME);
const attemptLogs = new AttemptLogStore(config.TABLE_NAME, config.ATTEMPT_LOG_TTL_DAYS);
const allowlist = parseAllowlist(config.TARGET_ALLOWLIST);
const sourceAllowlist = parseSourceAllowlist(config.TILEDESK_INGEST_SOURCE_ALLOWLIST);
const limits = new RequestLimitStore(config.TABLE_NAME);
const sourceLimit = parseRequestLimit(REQUEST_LIMITS.ingestSource.setting, config.INGEST_SOURCE_LIMIT, REQUEST_LIMITS.ingestSource.defaults);
const eventsLimit = parseRequestLimit(REQUEST_LIMITS.projectEvents.setting, config.PROJECT_EVENTS_LIMIT, REQUEST_LIMITS.projectEvents.defaults);

/** Lambda's synchronous payload limit is 6 MB; a body above this cannot be a Tiledesk event we can take. */
const MAX_INGEST_BODY_BYTES = 5 * 1024 * 1024;

/**
 * `POST /tiledesk/ingest`: the webhook request of an unmodified tiledesk-server's global
 * subscriptions. The source must be allowed (when an allowlist is set, 403) and within its
 * request limit (429; a routing call over it gets the default routing); the request verified (401/400) and its project within its events limit
 * (429; operator.select over its own share gets the default routing instead). A verified event is published to the bus once (Tiledesk's retries of the same request
 * are recognised) and answered 200 at once; operator.select is answered with the routing object
 * while Tiledesk waits. Refused requests publish nothing.
 */
export async function ingestTiledeskRequest(event: ApiEvent): Promise<ApiResult> {
  metrics.addMetric('TiledeskIngestRequest', 'Count', 1);
  let ingested: IngestedEvent;
  try {
    const source = event.requestContext.http.sourceIp;
    if (!isAllowedSource(source, sourceAllowlist)) {
      throw new ForbiddenError(`source address ${plainAddress(source)} is not in TILEDESK_INGEST_SOURCE_ALLOWLIST`);
    }
    const overSourceLimit = await limits.take('ingest-source', sourceLimitKey(source), sourceLimit, `source ${sourceLimitKey(source)}`).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (overSourceLimit !== undefined) {
      const routing = overSourceLimit instanceof TooManyRequestsError ? await routingOverLimit(event) : undefined;
      if (routing === undefined) throw overSourceLimit;
      metrics.addMetric('OperatorSelectDefault', 'Count', 1);
      metrics.addMetric('OperatorSelectOverSourceLimit', 'Count', 1);
      logger.info("routing call over its source's request limit: answered with Tiledesk's own routing", { projectId: routing.id_project });
      return jsonResponse(200, routing);
    }
    ingested = readIngestRequest(rawBodyOf(event), event.headers?.['x-hook-secret'], await ingestSettings());
    const projectId = ingested.payload.id_project;
    // A routing call is counted by the router, in the project's own operator.select bucket,
    // and over it gets the default routing: Tiledesk must get an answer, never a 429.
    if (ingested.event !== OPERATOR_SELECT_EVENT) await limits.take('events', projectId, eventsLimit, `project ${projectId}`);
  } catch (error) {
    // A busy table (the dedupe or the limits) is no refusal: errorResponse logs and counts it.
    if (!isAwsBusy(error)) {
      metrics.addMetric('TiledeskIngestRefused', 'Count', 1);
      logger.info('Tiledesk request refused', { reason: (error as Error).message });
    }
    return errorResponse(error);
  }
  if (ingested.event === OPERATOR_SELECT_EVENT) return jsonResponse(200, await routeOperatorSelect(ingested.payload));

  try {
    if (!(await dedupe.claim(ingested.requestHash))) {
      metrics.addMetric('TiledeskIngestDuplicate', 'Count', 1);
      return jsonResponse(200, { success: true, duplicate: true });
    }
    try {
      const { claimChecked } = await publishTiledeskEvents(config.EVENT_BUS_NAME, [ingested], claimChecks);
      logger.info('Tiledesk event ingested', { event: ingested.event, projectId: ingested.payload.id_project, claimChecked });
    } catch (error) {
      // Not published: Tiledesk's retry must get through.
      await dedupe.release(ingested.requestHash);
      throw error;
    }
    metrics.addMetric('TiledeskIngestPublished', 'Count', 1);
    return jsonResponse(200, { success: true });
  } catch (error) {
    logger.error('Tiledesk event could not be published', error as Error);
    return unavailableResponse('the event could not be published; retry');
  }
}

/**
 * The default routing for a request over its source's limit that says it is Tiledesk's routing
 * call ({@link routingOverSourceLimit}); undefined for any other, which gets the 429.
 */
async function routingOverLimit(event: ApiEvent): Promise<Record<string, unknown> | undefined> {
  const hookSecret = event.headers?.['x-hook-secret'];
  // Before decoding anything: a refusal in a flood stays cheap.
  if (!hookSecret || (event.body?.length ?? 0) > ROUTING_BODY_MAX_BYTES * 2) return undefined;
  try {
    return routingOverSourceLimit(rawBodyOf(event), hookSecret, await ingestSettings());
  } catch {
    return undefined;
  }
}

/**
 * Tiledesk's keys and the global subscription secret, read once per container. Synth and
 * `npm start` refuse ingest without the hook secret; a function somehow deployed without it
 * refuses every request rather than skip the check.
 */
async function ingestSettings(): Promise<IngestSettings> {
  const [secret, hookSecret] = await Promise.all([
    loadSecretSetting('TILEDESK_GLOBAL_SECRET'),
    loadSecretSetting('TILEDESK_INGEST_HOOK_SECRET'),
  ]);
  if (secret === undefined && publicKey === undefined) {
    throw new UnauthenticatedError('Tiledesk ingest is not configured: set TILEDESK_GLOBAL_SECRET or TILEDESK_GLOBAL_PUBLIC_KEY');
  }
  if (hookSecret === undefined) {
    throw new UnauthenticatedError('Tiledesk ingest is not configured: set TILEDESK_INGEST_HOOK_SECRET');
  }
  return { keys: { secret, publicKey }, hookSecret, tokenMaxAgeSeconds: config.INGEST_TOKEN_MAX_AGE_SECONDS };
}

const sender = {
  post: (request: { url: string; headers: Record<string, string>; body: string }) =>
    postWebhook({ ...request, timeoutMs: config.OPERATOR_SELECT_TIMEOUT_MS, maxResponseBytes: 256 * 1024, allowlist }),
  origin: config.WEBHOOK_ORIGIN,
};

/**
 * The routing object for Tiledesk: the project's operator.select hook through the same logic as
 * `POST /{projectId}/operator-select` (lambdas/handlers/operator-select.ts), and on any failure
 * the request as Tiledesk sent it, which Tiledesk reads as its own default routing.
 */
async function routeOperatorSelect(payload: Record<string, unknown>): Promise<unknown> {
  const parsed = routingRequestSchema.safeParse(payload);
  if (!parsed.success) return payload;
  const request: RoutingRequest = parsed.data;
  const selection = await route(request);
  return selection.path === 'hook' ? selection.result : payload;
}

const route = operatorSelectRouter({ subscriptions, attemptLogs, sender, calls: { store: limits, limit: eventsLimit } });

/** The request body as sent, refused (413) above what one invocation can take. */
function rawBodyOf(event: ApiEvent): string {
  const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  if (Buffer.byteLength(body) > MAX_INGEST_BODY_BYTES) throw new PayloadTooLargeError(MAX_INGEST_BODY_BYTES);
  return body;
}

/**
 * `POST /{projectId}/events` (platform token): publishes `{event, payload}` or a list of them
 * to the bus as the platform's `PutEvents` would, for producers without AWS credentials; payloads
 * over EventBridge's 256 KB are stored aside and delivered whole. `payload.id_project` defaults
 * to the path's project and must match it. 202 once every event is on the bus.
 */
export async function publishEvents(event: ApiEvent): Promise<ApiResult> {
  let events: TiledeskEvent[];
  try {
    const principal = principalOf(event);
    if (!principal.platform) throw new ForbiddenError('publishing events needs the platform token');
    const { projectId } = parseWith(z.object({ projectId: idSchema }), event.pathParameters ?? {}, 'path');
    await limits.take('events', projectId, eventsLimit, `project ${projectId}`);
    let raw: unknown;
    try {
      raw = JSON.parse(rawBodyOf(event) || 'null');
    } catch {
      throw new ValidationError('body must be valid JSON', [{ field: 'body', message: 'invalid JSON' }]);
    }
    // One shape or the other, each checked on its own so a refusal names the field.
    const isList = Array.isArray(raw);
    const body = isList ? parseWith(publishedListSchema, raw, 'body') : [parseWith(publishedEventSchema, raw, 'body')];
    // Payloads are published as sent (zod's output would list `id_project` first).
    const rawEvents = (isList ? raw : [raw]) as { payload: Record<string, unknown> }[];
    const reserved = reservedFieldsIn(
      rawEvents.map((entry) => entry.payload),
      (index) => `${isList ? `${index}.` : ''}payload.${CLAIM_CHECK_FIELD}`,
    );
    if (reserved.length > 0) {
      const message = 'reserved for the service\'s own claim checks';
      throw new ValidationError(`${reserved.join(', ')}: ${message}`, reserved.map((field) => ({ field, message })));
    }
    events = body.map(({ event: name }, index) => {
      const payload = rawEvents[index]?.payload ?? {};
      if (payload.id_project !== undefined && payload.id_project !== projectId) {
        const field = isList ? `${index}.payload.id_project` : 'payload.id_project';
        throw new ValidationError('id_project must match the path', [{ field, message: 'differs from the path' }]);
      }
      return { event: name, payload: payload.id_project === undefined ? { id_project: projectId, ...payload } : payload };
    });
  } catch (error) {
    return errorResponse(error);
  }
  try {
    const { published, claimChecked } = await publishTiledeskEvents(config.EVENT_BUS_NAME, events, claimChecks);
    metrics.addMetric('EventsPublished', 'Count', published);
    if (claimChecked > 0) metrics.addMetric('EventsClaimChecked', 'Count', claimChecked);
    return jsonResponse(202, { success: true, published, claimChecked });
  } catch (error) {
    logger.error('events could not be published', error as Error);
    return unavailableResponse('the events could not be published; retry');
  }
}

/**
 * `POST /{projectId}/events/example` (owner or admin): publishes the example payload of an event
 * (`GET /events`) for the project, as a real event: it travels the bus, the fan-out and the
 * delivery queue like any other, so every subscriber of that event in the project receives it,
 * signed, retried and logged. Svix's and Convoy's "send example" do the same.
 */
export async function publishExample(event: ApiEvent): Promise<ApiResult> {
  let example: TiledeskEvent;
  try {
    const principal = principalOf(event);
    const { projectId } = parseWith(z.object({ projectId: idSchema }), event.pathParameters ?? {}, 'path');
    assertCanManage(principal, projectId);
    // An example is a real event on the bus: it counts against the project's events.
    await limits.take('events', projectId, eventsLimit, `project ${projectId}`);
    let raw: unknown;
    try {
      raw = JSON.parse(rawBodyOf(event) || 'null');
    } catch {
      throw new ValidationError('body must be valid JSON', [{ field: 'body', message: 'invalid JSON' }]);
    }
    example = exampleEventFor(parseWith(exampleRequestSchema, raw, 'body').event, projectId);
  } catch (error) {
    return errorResponse(error);
  }
  try {
    await publishTiledeskEvents(config.EVENT_BUS_NAME, [example], claimChecks);
    metrics.addMetric('ExampleEventsPublished', 'Count', 1);
    return jsonResponse(202, { success: true, published: 1, event: example.event, payload: example.payload });
  } catch (error) {
    logger.error('the example event could not be published', error as Error);
    return unavailableResponse('the example event could not be published; retry');
  }
}

/** Routes the function's requests (routes declared in `lambdas/core/settings.ts`). */
export async function handleIngestRequest(event: ApiEvent): Promise<ApiResult> {
  if (event.routeKey === TILEDESK_INGEST_ROUTE) return ingestTiledeskRequest(event);
  if (event.routeKey === PUBLISH_EVENTS_ROUTE) return publishEvents(event);
  if (event.routeKey === PUBLISH_EXAMPLE_ROUTE) return publishExample(event);
  return errorResponse(new NotFoundError(`no route ${event.routeKey}`));
}

export const handler = instrument(handleIngestRequest);
