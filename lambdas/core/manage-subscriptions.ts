import { DuplicateSubscriptionError, NotFoundError, ValidationError } from './errors';
import {
  CreateSubscriptionInput,
  Subscription,
  SubscriptionView,
  UpdateSubscriptionInput,
  SECRET_ROTATION_OVERLAP_MS,
  newSigningSecret,
  newSubscriptionId,
  toView,
} from './subscription';
import { Resolver, TargetPolicy, checkTargetAddress, checkTargetForm, normalizeTarget } from './target-policy';

/** What managing subscriptions needs from storage. */
export interface SubscriptionRepository {
  /**
   * Stores a new subscription and returns it as stored (with the store's bookkeeping).
   * DuplicateSubscriptionError when one with the same event and target exists; ConflictError
   * for any other refusal (limit, a second operator.select).
   */
  create(subscription: Subscription, limit: number): Promise<Subscription>;
  list(projectId: string): Promise<Subscription[]>;
  get(projectId: string, subscriptionId: string): Promise<Subscription | undefined>;
  replace(previous: Subscription, next: Subscription): Promise<void>;
  delete(projectId: string, subscriptionId: string): Promise<Subscription | undefined>;
}

/** Everything the use cases depend on, injected so tests can pick each part. */
export interface SubscriptionDeps {
  repository: SubscriptionRepository;
  targetPolicy: TargetPolicy;
  resolve?: Resolver;
  subscriptionLimit: number;
  now?: () => Date;
}

/**
 * Refuses a target by form or by where it leads, naming the field; returns the form it is
 * stored in (its parsed URL's `href`), checked again since normalizing may lengthen it.
 */
async function allowedTarget(target: string, deps: SubscriptionDeps): Promise<string> {
  const typedProblem = checkTargetForm(target, deps.targetPolicy);
  const normalized = typedProblem ? target : normalizeTarget(target);
  const problem =
    typedProblem ??
    checkTargetForm(normalized, deps.targetPolicy) ??
    (await checkTargetAddress(normalized, deps.targetPolicy, deps.resolve));
  if (problem) throw new ValidationError(`target ${problem}`, [{ field: 'target', message: problem }]);
  return normalized;
}

/** What a create came to: a new subscription, or the one that already had this event and target. */
export interface CreateOutcome {
  subscription: Subscription;
  created: boolean;
}

/**
 * Creates a subscription, its target stored normalized. Creating one again (same event and
 * normalized target in the project) is idempotent, as in Tiledesk: the existing subscription
 * comes back, secret included, so a connector that subscribes at every start keeps working. The result and rotations are the
 * only places a secret is ever returned.
 */
export async function createSubscription(
  projectId: string,
  input: CreateSubscriptionInput,
  createdBy: string,
  deps: SubscriptionDeps,
): Promise<CreateOutcome> {
  const target = await allowedTarget(input.target, deps);
  const now = (deps.now?.() ?? new Date()).toISOString();
  const subscription: Subscription = {
    _id: newSubscriptionId(),
    id_project: projectId,
    event: input.event,
    target,
    createdBy,
    createdAt: now,
    updatedAt: now,
    status: 'active',
    ...(input.rateLimit !== undefined ? { rateLimit: input.rateLimit } : {}),
    secret: newSigningSecret(),
  };
  try {
    return { subscription: await deps.repository.create(subscription, deps.subscriptionLimit), created: true };
  } catch (error) {
    if (error instanceof DuplicateSubscriptionError) return { subscription: error.existing, created: false };
    throw error;
  }
}

export async function listSubscriptions(projectId: string, deps: SubscriptionDeps): Promise<SubscriptionView[]> {
  return (await deps.repository.list(projectId)).map(toView);
}

export async function getSubscription(
  projectId: string,
  subscriptionId: string,
  deps: SubscriptionDeps,
): Promise<Subscription> {
  const subscription = await deps.repository.get(projectId, subscriptionId);
  if (!subscription) throw new NotFoundError(`subscription ${subscriptionId} not found in project ${projectId}`);
  return subscription;
}

/** Changes only the given fields of an existing subscription; never creates one. */
export async function updateSubscription(
  projectId: string,
  subscriptionId: string,
  changes: UpdateSubscriptionInput,
  deps: SubscriptionDeps,
): Promise<SubscriptionView> {
  const previous = await getSubscription(projectId, subscriptionId, deps);
  const { rateLimit, ...rest } = changes;
  if (rest.target !== undefined && rest.target !== previous.target) rest.target = await allowedTarget(rest.target, deps);
  const next: Subscription = {
    ...previous,
    ...rest,
    updatedAt: laterTimestamp(previous.updatedAt, deps.now?.() ?? new Date()),
  };
  if (rateLimit === null) delete next.rateLimit;
  else if (rateLimit !== undefined) next.rateLimit = rateLimit;
  if (changes.status === 'active') {
    delete next.disabledReason;
    next.consecutiveDeadCount = 0;
    delete next.deadWebhookIds;
  } else if (changes.status === 'disabled' && previous.status !== 'disabled') {
    next.disabledReason = 'disabled through the API';
  }
  await deps.repository.replace(previous, next);
  return toView(next);
}

/**
 * Issues a new secret. The previous one keeps signing (a second `v1,` signature) for 24 h, so
 * receivers can switch keys without losing a delivery.
 */
export async function rotateSecret(projectId: string, subscriptionId: string, deps: SubscriptionDeps): Promise<Subscription> {
  const previous = await getSubscription(projectId, subscriptionId, deps);
  const now = deps.now?.() ?? new Date();
  const next: Subscription = {
    ...previous,
    secret: newSigningSecret(),
    previousSecret: previous.secret,
    previousSecretExpiresAt: new Date(now.getTime() + SECRET_ROTATION_OVERLAP_MS).toISOString(),
    updatedAt: laterTimestamp(previous.updatedAt, now),
  };
  await deps.repository.replace(previous, next);
  return next;
}

export async function deleteSubscription(
  projectId: string,
  subscriptionId: string,
  deps: SubscriptionDeps,
): Promise<SubscriptionView> {
  const deleted = await deps.repository.delete(projectId, subscriptionId);
  if (!deleted) throw new NotFoundError(`subscription ${subscriptionId} not found in project ${projectId}`);
  return toView(deleted);
}

/**
 * An ISO timestamp strictly after `previous`: `updatedAt` doubles as the optimistic-lock
 * version, so two updates in the same millisecond must still differ.
 */
function laterTimestamp(previous: string, now: Date): string {
  const previousMs = Date.parse(previous);
  return new Date(Math.max(now.getTime(), previousMs + 1)).toISOString();
}
