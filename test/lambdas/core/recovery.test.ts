import { Attempt } from '../../../lambdas/core/attempt';
import { messageFromAttempt, planRecovery } from '../../../lambdas/core/recovery';

const now = new Date('2026-11-23T12:00:00Z');
let sequence = 0;
function attempt(webhookId: string, outcome: Attempt['outcome'], extra: Partial<Attempt> = {}): Attempt {
  sequence += 1;
  return {
    logId: `${String(now.getTime() - 100_000 + sequence).padStart(14, '0')}-x`,
    projectId: 'p',
    subscriptionId: 's',
    webhookId,
    eventId: webhookId,
    event: 'request.create',
    target: 'https://example.com/hook',
    attempt: 1,
    outcome,
    durationMs: 1,
    attemptedAt: now.toISOString(),
    payload: { id_project: 'p', webhookId },
    ...extra,
  };
}

describe('planRecovery', () => {
  test('dead and skipped-while-disabled ids are resent once; delivered and pending ones are not', () => {
    const chosen = planRecovery(
      [
        attempt('dead', 'failed', { nextAttemptAt: now.toISOString() }),
        attempt('dead', 'dead'),
        attempt('skipped', 'skipped', { error: 'subscription disabled: 5 deliveries in a row exhausted their retries' }),
        attempt('deleted', 'skipped', { error: 'subscription deleted after the event was fanned out' }),
        attempt('delivered-late', 'dead'),
        attempt('delivered-late', 'delivered'),
        attempt('pending', 'failed', { nextAttemptAt: new Date(now.getTime() + 60_000).toISOString() }),
        attempt('lost', 'failed', { nextAttemptAt: new Date(now.getTime() - 3_600_000).toISOString() }),
        attempt('msg_test_1', 'failed'),
      ],
      now,
    );
    expect(chosen.map((attempt) => attempt.webhookId).sort()).toEqual(['dead', 'lost', 'skipped']);
    expect(chosen.find((attempt) => attempt.webhookId === 'dead')?.outcome).toBe('dead');
  });

  test('an operator.select attempt is never turned into a delivery', () => {
    expect(messageFromAttempt(attempt('opsel', 'failed', { event: 'operator.select' }))).toBeUndefined();
    expect(messageFromAttempt(attempt('normal', 'delivered'))).toMatchObject({ webhookId: 'normal', event: 'request.create' });
  });
});
