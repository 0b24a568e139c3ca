import type { SubscriptionView } from '../../lambdas/core/subscription';
import type { ApiReply } from './local-stack-harness';

/** The fields of a subscription as the API shows it (DESIGN §3), in sorted order. */
export const SUBSCRIPTION_VIEW_KEYS = ['_id', 'createdAt', 'createdBy', 'event', 'health', 'id_project', 'status', 'target', 'updatedAt'];

/** A subscription as webhooks carry it in `hook`: the API's view without the delivery health. */
export function hookOf(view: Record<string, unknown>): Record<string, unknown> {
  const { health: _health, ...hook } = view;
  return hook;
}

/** `Date.prototype.toISOString()` form. */
export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Tiledesk's id form: 24 hex characters, like a Mongo ObjectId. */
export const OBJECT_ID = /^[0-9a-f]{24}$/;

/** Asserts the contract error body `{success: false, msg}` without field errors (401, 403, 404, 409). */
export function expectError(reply: ApiReply, status: number, msg: RegExp = /\S/): void {
  expect({ status: reply.status, body: reply.body }).toEqual({
    status,
    body: { success: false, msg: expect.stringMatching(msg) },
  });
}

/** Asserts a 400 `{success: false, msg, errors: [{field, message}]}` naming `field`. */
export function expectFieldError(reply: ApiReply, field: string, message: RegExp = /\S/): void {
  expect(reply.status).toBe(400);
  expect(reply.body).toEqual({
    success: false,
    msg: expect.stringContaining(field),
    errors: expect.arrayContaining([{ field, message: expect.stringMatching(message) }]),
  });
}

/** The body of a reply whose JSON is an array of subscriptions. */
export function subscriptionsOf(reply: ApiReply): SubscriptionView[] {
  const parsed: unknown = JSON.parse(reply.text);
  if (!Array.isArray(parsed)) throw new Error(`expected a JSON array, got ${reply.text}`);
  return parsed as SubscriptionView[];
}

/** The body of a reply as one subscription (the caller asserts its shape). */
export const subscriptionOf = (reply: ApiReply): SubscriptionView & { secret?: string } =>
  reply.body as unknown as SubscriptionView & { secret?: string };

/** Calls the API with any `Authorization` header, or none, as a client could. */
export async function callWithAuthorization(
  apiUrl: string,
  path: string,
  authorization: string | undefined,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${apiUrl}${path}`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}
