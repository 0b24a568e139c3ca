/** The subscription API as the console calls it: same origin, the user's token on every call. */

import { ATTEMPT_OUTCOMES } from '../../lambdas/core/api-types';
import type {
  Attempt,
  AttemptOutcome,
  AttemptPage,
  EventCatalogAnswer,
  ExampleAnswer,
  FieldError,
  RecoverAnswer,
  SubscriptionAnswer,
  SubscriptionUpdate,
} from '../../lambdas/core/api-types';

// The API's answer types are the functions' own (one module, `lambdas/core/api-types.ts`).
export type { Attempt, AttemptPage, FieldError, HealthView as Health } from '../../lambdas/core/api-types';
export type Outcome = AttemptOutcome;
export type Subscription = SubscriptionAnswer;
export type EventCatalog = EventCatalogAnswer;
export const OUTCOMES: readonly Outcome[] = ATTEMPT_OUTCOMES;

/** An API call that failed, with the service's message put in words a person can act on. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What each status means to the person looking at the screen. */
export function describeFailure(status: number, serviceMessage: string | undefined): string {
  const said = serviceMessage ? ` The service said: “${serviceMessage}”.` : '';
  if (status === 400) return `The request was refused as invalid.${said}`;
  if (status === 401) return `Your token was not accepted (expired, malformed or wrongly signed).${said} Sign in again with a valid token.`;
  if (status === 403) return `This token may not manage this project: it needs the owner or admin role.${said}`;
  if (status === 404) return `Not found: it does not exist, or belongs to another project.${said}`;
  if (status === 409) return `Refused because it conflicts with what exists.${said}`;
  if (status === 413) return `The request is too large.${said}`;
  if (status === 429) return 'Too many requests: the API is throttling. Wait a moment and try again.';
  if (status >= 500) return `The service failed (HTTP ${status}).${said} Try again; if it persists, check the service logs.`;
  return `Unexpected answer (HTTP ${status}).${said}`;
}

export interface Session {
  token: string;
  projectId: string;
}

/** `Bearer <jwt>`, or a token pasted in Tiledesk's own `JWT <jwt>` form as it is. */
const authorization = (token: string): string => (/^jwt\s/i.test(token) ? token : `Bearer ${token}`);

async function call<T>(session: Session, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        authorization: authorization(session.token),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, `Could not reach the API (${(error as Error).message}). Check your connection and that the service is running.`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const answer = (parsed ?? {}) as { msg?: string; message?: string; errors?: FieldError[] };
    throw new ApiError(response.status, describeFailure(response.status, answer.msg ?? answer.message), answer.errors ?? []);
  }
  return parsed as T;
}

const enc = encodeURIComponent;

/** The API calls of one project, bound to the signed-in token. */
export function projectApi(session: Session) {
  const base = `/${enc(session.projectId)}/subscriptions`;
  const one = (id: string): string => `${base}/${enc(id)}`;
  const page = (cursor: string | null, limit: number): string =>
    `?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`;
  return {
    list: () => call<Subscription[]>(session, 'GET', base),
    get: (id: string) => call<Subscription>(session, 'GET', one(id)),
    create: (body: { event: string; target: string; rateLimit?: number }) => call<Subscription>(session, 'POST', base, body),
    update: (id: string, body: SubscriptionUpdate) =>
      call<Subscription>(session, 'PUT', one(id), body),
    remove: (id: string) => call<Subscription>(session, 'DELETE', one(id)),
    rotateSecret: (id: string) => call<Subscription>(session, 'POST', `${one(id)}/rotate-secret`),
    testPing: (id: string) => call<Attempt>(session, 'POST', `${one(id)}/test`),
    resetHealth: (id: string) => call<Subscription>(session, 'DELETE', `${one(id)}/health`),
    logs: (id: string, cursor: string | null, limit = 50) => call<AttemptPage>(session, 'GET', `${one(id)}/logs${page(cursor, limit)}`),
    history: (cursor: string | null, limit = 50) => call<AttemptPage>(session, 'GET', `${base}/history${page(cursor, limit)}`),
    retry: (id: string, logId: string) =>
      call<{ enqueued: number; webhookId: string }>(session, 'POST', `${one(id)}/logs/${enc(logId)}/retry`),
    recover: (id: string, since: string, cursor: string | null = null) =>
      call<RecoverAnswer>(session, 'POST', `${one(id)}/recover`, cursor ? { since, cursor } : { since }),
    events: () => call<EventCatalog>(session, 'GET', '/events'),
    sendExample: (event: string) => call<ExampleAnswer>(session, 'POST', `/${enc(session.projectId)}/events/example`, { event }),
  };
}

export type ProjectApi = ReturnType<typeof projectApi>;
