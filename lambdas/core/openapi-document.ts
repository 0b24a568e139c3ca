import * as z from 'zod';
import {
  CONSOLE_ROUTES,
  OPENAPI_ROUTE,
  OPERATOR_SELECT_ROUTE,
  PUBLISH_EVENTS_ROUTE,
  PUBLISH_EXAMPLE_ROUTE,
  SERVICE_VERSION,
  SUBSCRIPTION_ROUTES,
  TILEDESK_INGEST_ROUTE,
} from './settings';
import {
  attemptPageSchema,
  attemptSchema,
  createdSubscriptionSchema,
  errorSchema,
  eventCatalogSchema,
  exampleRequestSchema,
  exampleResultSchema,
  pageQuerySchema,
  ingestResultSchema,
  pathSchema,
  publishResultSchema,
  publishedEventSchema,
  publishedListSchema,
  recoverResultSchema,
  recoverSchema,
  retryResultSchema,
  rotatedSubscriptionSchema,
  subscriptionViewSchema,
  testAttemptSchema,
  tiledeskPageQuerySchema,
} from './api-schemas';
import { TILEDESK_HISTORY_MAX_PAGE, TILEDESK_HISTORY_PAGE_SIZE } from './history-page';
import { routingRequestSchema } from './operator-select';
import { createSubscriptionSchema, updateSubscriptionSchema } from './subscription';
import { EVENT_CATALOG } from './event-catalog';
import { examplePayloadOf, payloadSchemaOf } from './event-payloads';

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the handlers
 * validate with (OpenAPI 3.1 schemas are JSON Schema draft 2020-12, zod's default target).
 * Each route of the route lists in `lambdas/core/settings.ts` needs an entry in {@link ROUTE_DOCS};
 * a route without one is still listed, marked undocumented, and fails the completeness test.
 */

/** Every route the HTTP API serves, as `lib/subscription-api.ts` and the local stack wire them. */
export const API_ROUTES: readonly string[] = [
  ...SUBSCRIPTION_ROUTES,
  OPERATOR_SELECT_ROUTE,
  PUBLISH_EVENTS_ROUTE,
  PUBLISH_EXAMPLE_ROUTE,
  TILEDESK_INGEST_ROUTE,
  OPENAPI_ROUTE,
  ...CONSOLE_ROUTES,
];

/** Statuses answered with the error body, each with its meaning. */
const ERROR_RESPONSES = {
  400: ['BadRequest', 'Bad input: malformed JSON, an unknown field or event, a bad target; `errors` names each field'],
  401: ['Unauthorized', 'No token, or one that is expired, malformed or wrongly signed'],
  403: ['Forbidden', 'The token has no owner or admin right on this project'],
  404: ['NotFound', 'Absent, or another project’s'],
  409: ['Conflict', 'Conflicts with what exists (see the operation)'],
  413: ['PayloadTooLarge', 'The request body is over the route’s limit'],
  429: ['TooManyRequests', 'Over the project’s request limit (or, on ingest, the source’s); retry after `Retry-After` seconds'],
  500: ['InternalError', 'An unexpected error; the message says no more'],
  503: ['Unavailable', 'A service the request needs is busy or unreachable (an AWS service throttling or failing, Tiledesk’s sign-in, the bus); send it again after `Retry-After` seconds'],
} as const;
type ErrorStatus = keyof typeof ERROR_RESPONSES;

interface Answer {
  description: string;
  /** JSON answer's schema; absent for files, whose media types `contentTypes` lists. */
  schema?: z.ZodType;
  contentTypes?: string[];
  headers?: Record<string, string>;
}

/** How one route is described. */
export interface RouteDoc {
  summary: string;
  description?: string;
  tag: 'Subscriptions' | 'Attempts' | 'Events' | 'Hooks' | 'Public';
  /** No API token (the route authenticates otherwise, or not at all). @default false */
  public?: boolean;
  query?: z.ZodObject;
  body?: z.ZodType;
  success: Record<number, Answer>;
  /** Statuses answered with the error body (401 and 500 are added to every non-public route). */
  errors: ErrorStatus[];
}

const PROJECT_ERRORS: ErrorStatus[] = [400, 403];

/** Routes held to a per-tenant request limit (lambdas/core/request-limit.ts): each may answer 429. */
const LIMITED_ROUTES: ReadonlySet<string> = new Set([
  ...SUBSCRIPTION_ROUTES.filter((route) => route.includes('{projectId}')),
  PUBLISH_EVENTS_ROUTE,
  TILEDESK_INGEST_ROUTE,
]);
const SECRET_HEADER = { 'x-hook-secret': 'The signing secret, as Tiledesk sends it' };

/** The description of every route; the key is the route as `lambdas/core/settings.ts` spells it. */
export const ROUTE_DOCS: Partial<Record<string, RouteDoc>> = {
  'GET /events': {
    summary: 'The event catalog',
    description: 'Every event a subscription can name, and the refinements (a base event plus a name from the payload).',
    tag: 'Events',
    success: { 200: { description: 'The catalog', schema: eventCatalogSchema } },
    errors: [],
  },
  'POST /{projectId}/subscriptions': {
    summary: 'Create a subscription',
    description:
      'Subscribes a target URL to an event. The answer is the only place, with rotation, where the signing secret is shown. 409: a second operator.select, or the project’s subscription limit reached.',
    tag: 'Subscriptions',
    body: createSubscriptionSchema,
    success: {
      200: {
        description: 'Created, or the existing one with the same event and target (idempotent, as Tiledesk answers), with its secret',
        schema: createdSubscriptionSchema,
        headers: SECRET_HEADER,
      },
    },
    errors: [...PROJECT_ERRORS, 409, 413],
  },
  'GET /{projectId}/subscriptions': {
    summary: "List the project's subscriptions",
    tag: 'Subscriptions',
    success: { 200: { description: 'The subscriptions, without secrets', schema: z.array(subscriptionViewSchema) } },
    errors: PROJECT_ERRORS,
  },
  'GET /{projectId}/subscriptions/history': {
    summary: "The project's delivery attempts, newest first",
    description:
      'With `limit`/`cursor`: a page ends at `limit` attempts or about 1 MB; follow `nextCursor` until it is null. ' +
      `With \`page\` (Tiledesk's paging, 0 to ${TILEDESK_HISTORY_MAX_PAGE}, not mixed with limit/cursor): Tiledesk's plain array, ${TILEDESK_HISTORY_PAGE_SIZE} a page.`,
    tag: 'Attempts',
    query: pageQuerySchema.extend({ page: tiledeskPageQuerySchema.shape.page.optional() }),
    success: {
      200: {
        description: 'A page of attempts; a plain array of them with `page`',
        schema: z.union([attemptPageSchema, z.array(attemptSchema)]),
      },
    },
    errors: PROJECT_ERRORS,
  },
  'GET /{projectId}/subscriptions/{id}': {
    summary: 'Get a subscription',
    tag: 'Subscriptions',
    success: { 200: { description: 'The subscription', schema: subscriptionViewSchema } },
    errors: [...PROJECT_ERRORS, 404],
  },
  'PUT /{projectId}/subscriptions/{id}': {
    summary: 'Change event, target or status',
    description: 'Only the given fields change; never an upsert. `status: active` re-enables and clears `disabledReason`.',
    tag: 'Subscriptions',
    body: updateSubscriptionSchema,
    success: { 200: { description: 'The updated subscription', schema: subscriptionViewSchema } },
    errors: [...PROJECT_ERRORS, 404, 409, 413],
  },
  'DELETE /{projectId}/subscriptions/{id}': {
    summary: 'Delete a subscription',
    tag: 'Subscriptions',
    success: { 200: { description: 'The deleted subscription', schema: subscriptionViewSchema } },
    errors: [...PROJECT_ERRORS, 404],
  },
  'DELETE /{projectId}/subscriptions/{id}/health': {
    summary: "Reset a subscription's delivery health",
    description: 'Closes its circuit, moves it back to the fast lane and forgets its failures in a row.',
    tag: 'Subscriptions',
    success: { 200: { description: 'The subscription with its fresh health', schema: subscriptionViewSchema } },
    errors: [...PROJECT_ERRORS, 404],
  },
  'GET /{projectId}/subscriptions/{id}/logs': {
    summary: "A subscription's delivery attempts, newest first",
    description: 'A page ends at `limit` attempts or about 1 MB; follow `nextCursor` until it is null.',
    tag: 'Attempts',
    query: pageQuerySchema,
    success: { 200: { description: 'A page of attempts', schema: attemptPageSchema } },
    errors: [...PROJECT_ERRORS, 404],
  },
  'POST /{projectId}/subscriptions/{id}/rotate-secret': {
    summary: 'Rotate the signing secret',
    description: 'The previous secret keeps signing (a second `v1,` signature) until `previousSecretExpiresAt`.',
    tag: 'Subscriptions',
    success: { 200: { description: 'The subscription with its new secret', schema: rotatedSubscriptionSchema, headers: SECRET_HEADER } },
    errors: [...PROJECT_ERRORS, 404],
  },
  'POST /{projectId}/subscriptions/{id}/test': {
    summary: 'Send a signed test delivery now',
    description: 'A 410 answer to a test does not unsubscribe.',
    tag: 'Attempts',
    success: { 200: { description: 'The attempt', schema: testAttemptSchema } },
    errors: [...PROJECT_ERRORS, 404],
  },
  'POST /{projectId}/subscriptions/{id}/recover': {
    summary: 'Re-enqueue the undelivered deliveries since a time',
    description: 'Dead-lettered, skipped while disabled, or long-overdue deliveries, once per webhook id. 409 while disabled or for operator.select.',
    tag: 'Attempts',
    body: recoverSchema,
    success: { 202: { description: 'Re-enqueued', schema: recoverResultSchema } },
    errors: [...PROJECT_ERRORS, 404, 409, 413],
  },
  'POST /{projectId}/subscriptions/{id}/logs/{logId}/retry': {
    summary: 'Resend one logged delivery under its webhook id',
    description: "409 for operator.select, whose calls are synchronous, and for a test ping's log (send a new one).",
    tag: 'Attempts',
    success: { 202: { description: 'Enqueued', schema: retryResultSchema } },
    errors: [...PROJECT_ERRORS, 404, 409],
  },
  'POST /{projectId}/operator-select': {
    summary: 'Choose the agents for a new conversation (operator.select)',
    description:
      "Asks the project's operator.select hook; any failure of the hook gives the default routing (the request's own operators), never an error.",
    tag: 'Hooks',
    body: routingRequestSchema,
    success: {
      200: {
        description: 'The routing result',
        schema: routingRequestSchema,
        headers: {
          'x-operator-select-path': '`hook` or `default`: which routing was used',
          'x-operator-select-reason': 'Why, in words',
        },
      },
    },
    errors: [...PROJECT_ERRORS, 413],
  },
  'POST /{projectId}/events': {
    summary: 'Publish events (platform token)',
    description:
      "For producers without AWS credentials: `{event, payload}` or a list of them, published to the bus as the platform's PutEvents would. `payload.id_project` defaults to the path's project and must match it; payloads over 256 KB are stored aside and delivered whole. 400 for a payload carrying the reserved field `tiledeskWebhooksClaimCheck`; 403 without the platform token; 429 over the project's events limit.",
    tag: 'Events',
    body: z.union([publishedEventSchema, publishedListSchema]),
    success: { 202: { description: 'Every event is on the bus', schema: publishResultSchema } },
    errors: [...PROJECT_ERRORS, 413, 503],
  },
  'POST /{projectId}/events/example': {
    summary: 'Send an example event',
    description:
      'Publishes the example payload of an event (the one `GET /events` shows) for the project, as a real event: every subscriber of that event in the project receives it through the normal pipeline — signed, retried, logged. A refinement (`event.emit.{name}`, …) publishes its base event carrying that name; `project_user.update.agent` publishes `project_user.update` of an agent. operator.select is refused (400): it is a call, not an event.',
    tag: 'Events',
    body: exampleRequestSchema,
    success: { 202: { description: 'The example is on the bus', schema: exampleResultSchema } },
    errors: [...PROJECT_ERRORS, 503],
  },
  'POST /tiledesk/ingest': {
    summary: "Tiledesk's own webhook request (an unmodified tiledesk-server)",
    description:
      "The body is the request a tiledesk-server global subscription sends (`{hook, timestamp, payload, token}`); it is authenticated by the JWT Tiledesk signs into it (and `x-hook-secret`), never an API token; a token older than the freshness window is refused (401). 403 from a source outside the configured allowlist; 400 for a payload carrying the reserved field `tiledeskWebhooksClaimCheck`; 429 over the source's or the project's limit. A verified event is published once (Tiledesk's retries are recognised); `operator.select` is answered with the routing object while Tiledesk waits.",
    tag: 'Hooks',
    public: true,
    body: z.looseObject({}).meta({ description: "Tiledesk's webhook body, as tiledesk-server sends it" }),
    success: {
      200: {
        description: 'Published (or already was); for operator.select, the routing object',
        schema: z.union([ingestResultSchema, routingRequestSchema]),
      },
    },
    errors: [400, 401, 403, 413, 503],
  },
  'GET /openapi.json': {
    summary: 'This document',
    tag: 'Public',
    public: true,
    success: { 200: { description: 'The OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) } },
    errors: [],
  },
  'GET /console': {
    summary: 'The web console',
    description: 'A single-page app; sign in with a token (kept in the tab, never sent in a URL).',
    tag: 'Public',
    public: true,
    success: { 200: { description: 'The console page', contentTypes: ['text/html'] } },
    errors: [],
  },
  'GET /console/assets/{file}': {
    summary: "The console's scripts and styles",
    tag: 'Public',
    public: true,
    success: { 200: { description: 'A built script or style sheet', contentTypes: ['text/javascript', 'text/css'] } },
    errors: [404],
  },
};

/** Routes of {@link API_ROUTES} with no entry in {@link ROUTE_DOCS}. */
export const undocumentedRoutes = (routes: readonly string[] = API_ROUTES): string[] => routes.filter((route) => !ROUTE_DOCS[route]);

type JsonSchema = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 schema (JSON Schema 2020-12, without its `$schema`). */
function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return json;
}

/** Answers shared by several operations, referenced by name. */
const COMPONENT_SCHEMAS: [string, z.ZodType][] = [
  ['Error', errorSchema],
  ['Hook', subscriptionViewSchema.omit({ health: true }).meta({ description: 'The subscription in a webhook’s body, without its secret or health' })],
  ['Subscription', subscriptionViewSchema],
  ['Attempt', attemptSchema],
  ['AttemptPage', attemptPageSchema],
];

function answerSchema(schema: z.ZodType): JsonSchema {
  const named = COMPONENT_SCHEMAS.find(([, component]) => component === schema);
  return named ? { $ref: `#/components/schemas/${named[0]}` } : toSchema(schema, 'output');
}

function pathParameters(path: string): JsonSchema[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name = '']) => {
    const shape = pathSchema.shape as Record<string, z.ZodType | undefined>;
    const schema = shape[name];
    return {
      name,
      in: 'path',
      required: true,
      schema: schema ? toSchema(schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema, 'input') : { type: 'string' },
    };
  });
}

function queryParameters(query: z.ZodObject | undefined): JsonSchema[] {
  if (!query) return [];
  return Object.entries(query.shape as Record<string, z.ZodType>).map(([name, schema]) => ({
    name,
    in: 'query',
    required: !schema.safeParse(undefined).success,
    schema: toSchema(schema, 'input'),
  }));
}

function operation(route: string, doc: RouteDoc | undefined): JsonSchema {
  const [method = 'GET', path = '/'] = route.split(' ');
  if (!doc) {
    return { summary: `UNDOCUMENTED: describe ${route} in ROUTE_DOCS`, responses: { default: { description: 'Undocumented' } } };
  }
  const responses: JsonSchema = {};
  for (const [status, answer] of Object.entries(doc.success)) {
    responses[status] = {
      description: answer.description,
      ...(answer.headers && {
        headers: Object.fromEntries(
          Object.entries(answer.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
        ),
      }),
      content: answer.schema
        ? { 'application/json': { schema: answerSchema(answer.schema) } }
        : Object.fromEntries((answer.contentTypes ?? ['application/octet-stream']).map((type) => [type, { schema: { type: 'string' } }])),
    };
  }
  const errorStatuses = new Set<ErrorStatus>(doc.public ? doc.errors : [...doc.errors, 401, 500, 503]);
  if (LIMITED_ROUTES.has(route)) errorStatuses.add(429);
  for (const status of [...errorStatuses].sort()) {
    responses[status] = { $ref: `#/components/responses/${ERROR_RESPONSES[status][0]}` };
  }
  const parameters = [...pathParameters(path), ...queryParameters(doc.query)];
  return {
    operationId: operationId(method, path),
    summary: doc.summary,
    ...(doc.description && { description: doc.description }),
    tags: [doc.tag],
    ...(doc.public && { security: [] }),
    ...(parameters.length > 0 && { parameters }),
    ...(doc.body && {
      requestBody: { required: true, content: { 'application/json': { schema: toSchema(doc.body, 'input') } } },
    }),
    responses,
  };
}

/** `POST /{projectId}/subscriptions/{id}/rotate-secret` → `postSubscriptionsIdRotateSecret`. */
function operationId(method: string, path: string): string {
  const words = path
    .split(/[/{}.-]+/)
    .filter((word) => word && word !== 'projectId')
    .map((word) => word[0]!.toUpperCase() + word.slice(1));
  return method.toLowerCase() + words.join('');
}

/**
 * What a subscriber receives, one entry per catalog event (OpenAPI 3.1 `webhooks`): the POST's
 * body with the event's payload schema and an example, the same ones `GET /events` serves.
 */
function webhookDocs(): Record<string, JsonSchema> {
  return Object.fromEntries(
    EVENT_CATALOG.map(({ event, description }) => {
      const payload = examplePayloadOf(event);
      const body = {
        type: 'object',
        required: ['hook', 'timestamp', 'payload', 'token'],
        properties: {
          hook: { $ref: '#/components/schemas/Hook' },
          timestamp: { type: 'integer', description: 'Milliseconds since the epoch, when this attempt was sent' },
          payload: toSchema(payloadSchemaOf(event), 'output'),
          token: { type: 'string', description: 'Tiledesk’s HS256 JWT over the hook, keyed by the subscription’s secret' },
        },
      };
      const example = {
        hook: { _id: '6750a1f2c3d4e5f6a7b8c9e0', id_project: payload.id_project, event, target: 'https://example.com/hook', createdBy: 'u1', createdAt: '2026-11-20T10:00:00.000Z', updatedAt: '2026-11-20T10:00:00.000Z', status: 'active' },
        timestamp: 1795437729528,
        payload,
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…',
      };
      return [
        event,
        {
          post: {
            summary: description,
            description: `Sent to every subscription of \`${event}\` (and of its refinements) in the payload's project; signed with Standard Webhooks headers (\`webhook-id\`, \`webhook-timestamp\`, \`webhook-signature\`). Any 2xx within 10 s is a success; 410 unsubscribes; anything else is retried.`,
            operationId: `webhook${event.replace(/(^|[._])(\w)/g, (_all, _sep: string, letter: string) => letter.toUpperCase())}`,
            tags: ['Webhooks'],
            requestBody: { required: true, content: { 'application/json': { schema: body, example } } },
            responses: { '2XX': { description: 'Received' }, '410': { description: 'Gone: the subscription is removed' } },
          },
        },
      ];
    }),
  );
}

/** Builds the document for the given routes (all of the API's by default). */
export function buildOpenApiDocument(routes: readonly string[] = API_ROUTES): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const [method = 'GET', path = '/'] = route.split(' ');
    (paths[path] ??= {})[method.toLowerCase()] = operation(route, ROUTE_DOCS[route]);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'tiledesk-webhooks',
      version: SERVICE_VERSION,
      description:
        "Tiledesk REST-hook webhooks: subscriptions, their delivery attempts, and the operator.select hook. Errors are `{success: false, msg, errors?}`.",
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'Subscriptions', description: "A project's webhook subscriptions" },
      { name: 'Attempts', description: 'Delivery attempts: logs, retries, recovery, test pings' },
      { name: 'Events', description: 'What can be subscribed to' },
      { name: 'Hooks', description: 'Synchronous hooks the platform calls' },
      { name: 'Public', description: 'No token needed' },
      { name: 'Webhooks', description: 'What subscribers receive, per event, with an example' },
    ],
    security: [{ bearerAuth: [] }, { tiledeskJwt: [] }],
    paths,
    webhooks: webhookDocs(),
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'HS256 JWT (`exp` required; `sub`, `projects` {projectId: owner|admin|agent} or `platform: true`); RS256 where a key set is configured.',
        },
        tiledeskJwt: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'The same token in Tiledesk’s form: `Authorization: JWT <token>`.',
        },
      },
      schemas: Object.fromEntries(COMPONENT_SCHEMAS.map(([name, schema]) => [name, toSchema(schema, 'output')])),
      responses: Object.fromEntries(
        Object.values(ERROR_RESPONSES).map(([name, description]) => [
          name,
          {
            description,
            ...((name === 'TooManyRequests' || name === 'Unavailable') && {
              headers: { 'Retry-After': { description: 'Seconds after which a request will pass', schema: { type: 'integer', minimum: 1 } } },
            }),
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        ]),
      ),
    },
  };
}
