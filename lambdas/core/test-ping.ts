import { randomUUID } from 'node:crypto';
import { Attempt, newLogId } from './attempt';
import { DeliveryDeps, isSuccess, postSigned } from './deliver';
import { TEST_PING_PREFIX } from './recovery';
import { Subscription } from './subscription';

/**
 * Sends a signed test delivery now, exactly as a real one would be signed, and returns the
 * attempt. The payload says it is a test; its webhook id is fresh and never recovered. A 410
 * here does not unsubscribe: a test should not remove what it tests.
 */
export async function sendTestPing(subscription: Subscription, deps: Pick<DeliveryDeps, 'post' | 'origin' | 'now'>): Promise<Attempt> {
  const at = deps.now?.() ?? new Date();
  const webhookId = `${TEST_PING_PREFIX}${randomUUID()}`;
  const payload = {
    id_project: subscription.id_project,
    test: true,
    event: subscription.event,
    message: 'Test delivery from tiledesk-webhooks',
  };
  const result = await postSigned(subscription, webhookId, payload, at, deps);
  const delivered = isSuccess(result);
  return {
    logId: newLogId(at),
    projectId: subscription.id_project,
    subscriptionId: subscription._id,
    webhookId,
    eventId: webhookId,
    event: subscription.event,
    target: subscription.target,
    attempt: 1,
    outcome: delivered ? 'delivered' : 'failed',
    statusCode: result.statusCode,
    durationMs: result.durationMs,
    error: delivered ? undefined : (result.error ?? `target answered ${result.statusCode}`),
    errorKind: result.errorKind,
    responseBody: result.body || undefined,
    attemptedAt: at.toISOString(),
    payload,
  };
}
