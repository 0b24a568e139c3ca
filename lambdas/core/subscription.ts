import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { isKnownEvent } from './event-catalog';
import { SUBSCRIPTION_STATUSES, SubscriptionUpdate, SubscriptionView } from './api-types';
import { TARGET_MAX_LENGTH } from './target-policy';

// The subscription as the API shows it is shared with the console.
export { SUBSCRIPTION_STATUSES, type SubscriptionStatus, type SubscriptionView } from './api-types';

/** A subscription as stored: the view plus its signing secrets and delivery health. */
export interface Subscription extends SubscriptionView {
  secret: string;
  /** The secret before the last rotation, still signing until `previousSecretExpiresAt`. */
  previousSecret?: string;
  previousSecretExpiresAt?: string;
  /** Dead-lettered deliveries in a row; reaching the limit disables the subscription. */
  consecutiveDeadCount?: number;
  /**
   * The webhook ids that streak counted (up to the limit, 100 at most): a delivery that SQS handed
   * out twice can die twice, and counts once (docs/design.md §3.14).
   */
  deadWebhookIds?: Set<string>;
  /**
   * The claim on its (event, target) uniqueness guard that this version stored (the store's
   * own bookkeeping, never shown): a later move away releases that claim only, not a newer one.
   */
  guardClaimId?: string;
  /**
   * Which write stored this version (the store's own bookkeeping, never shown): a write whose
   * answer was lost and whose SDK retry then fails its own condition tells by it that it did
   * take place.
   */
  writeId?: string;
  /** The request deleting it, and since when (epoch ms): set just before its item is removed. */
  deleteId?: string;
  deleteClaimedAt?: number;
}

const eventSchema = z
  .string()
  .refine(isKnownEvent, { message: 'unknown event; see GET /events' })
  .meta({ description: 'A catalog event or a refinement of one (GET /events)', examples: ['request.create'] });
const targetSchema = z
  .string()
  .min(1)
  .max(TARGET_MAX_LENGTH)
  .meta({ description: 'https:// URL (http:// where allowed); private addresses are refused', examples: ['https://example.com/hook'] });
/** Deliveries per second, a whole number from 1 (Svix's throttleRate, Convoy's rate limit). */
const rateLimitSchema = z.number().int('a whole number of deliveries per second').min(1).max(10_000);

/** Body of `POST /{projectId}/subscriptions`. Unknown fields are refused. */
export const createSubscriptionSchema = z.strictObject({ event: eventSchema, target: targetSchema, rateLimit: rateLimitSchema.optional() });
export type CreateSubscriptionInput = z.infer<typeof createSubscriptionSchema>;

/** Body of `PUT /{projectId}/subscriptions/{id}`: only these fields change. */
export const updateSubscriptionSchema = z
  .strictObject({
    event: eventSchema.optional(),
    target: targetSchema.optional(),
    status: z.enum(SUBSCRIPTION_STATUSES).optional(),
    /** `null` removes the limit. */
    rateLimit: rateLimitSchema.nullable().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'nothing to update: give event, target, status or rateLimit' });
export type UpdateSubscriptionInput = z.infer<typeof updateSubscriptionSchema>;
// The console's request type (api-types.ts) is this body: a change to one must change the other.
export type UpdateBodyShared = Assert<UpdateSubscriptionInput extends SubscriptionUpdate ? (SubscriptionUpdate extends UpdateSubscriptionInput ? true : false) : false>;
type Assert<T extends true> = T;

/** Path ids: Tiledesk project ids are Mongo ObjectIds, but any short token-safe id is accepted. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');

/** A new subscription id in Tiledesk's form: 24 hex characters, like a Mongo ObjectId. */
export const newSubscriptionId = (): string => randomBytes(12).toString('hex');

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export const newSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** How long the previous secret keeps signing after a rotation. */
export const SECRET_ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/** Strips what only the store may see. */
export function toView({
  secret: _secret,
  previousSecret: _previousSecret,
  previousSecretExpiresAt: _previousSecretExpiresAt,
  consecutiveDeadCount: _consecutiveDeadCount,
  deadWebhookIds: _deadWebhookIds,
  guardClaimId: _guardClaimId,
  writeId: _writeId,
  deleteId: _deleteId,
  deleteClaimedAt: _deleteClaimedAt,
  ...view
}: Subscription): SubscriptionView {
  return view;
}

/** The secrets a delivery is signed with now: the current one, and the previous during the overlap. */
export function signingSecrets(subscription: Subscription, now: Date): string[] {
  const { secret, previousSecret, previousSecretExpiresAt } = subscription;
  if (previousSecret && previousSecretExpiresAt && Date.parse(previousSecretExpiresAt) > now.getTime()) {
    return [secret, previousSecret];
  }
  return [secret];
}
