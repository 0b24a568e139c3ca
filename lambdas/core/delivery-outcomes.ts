/**
 * What a batch's POSTs change besides their attempt logs: each subscription's health (lane,
 * circuit, quick answers) and its dead streak (auto-disable). The POSTs are done by then, so a
 * write that fails here is logged and skipped: failing the batch would POST it all again
 * (docs/design.md §3.20). Split from `delivery-batch.ts`, which calls these for each batch.
 */
import type { Attempt } from './attempt';
import { TRANSITION_METRICS, deadStreakAction } from './delivery-admission';
import type { DeliveryBatchDeps } from './delivery-batch';
import { DeliveryHealth, PostSignal, foldSignals, healthNeedsWrite } from './delivery-health';
import { groupBy } from './group-by';
import { sendWake } from './held-release';
import type { Subscription } from './subscription';

/** One POST's signal, and whose it was. */
export interface PostOutcomeOf {
  projectId: string;
  subscriptionId: string;
  signal: PostSignal;
}

/** Folds each subscription's POST outcomes into its health and stores what changed. */
export async function updateHealth(outcomes: PostOutcomeOf[], healths: Map<string, DeliveryHealth>, deps: DeliveryBatchDeps): Promise<void> {
  await Promise.all(
    [...groupBy(outcomes, (outcome) => outcome.subscriptionId)].map(async ([subscriptionId, group]) => {
      try {
        const list = group.map((outcome) => outcome.signal);
        await saveSignals(subscriptionId, group[0]!.projectId, list, healths.get(subscriptionId)!, deps);
      } catch (error) {
        // The POSTs are done: failing the batch would POST them all again. The next batch's
        // answers are folded into the health as it is stored.
        deps.report.error("delivery health not saved; this batch's answers are not counted in it", { subscriptionId, error: String(error) });
      }
    }),
  );
}

/** Folds one subscription's POST outcomes into its health and stores them, three tries against concurrent writes. */
async function saveSignals(subscriptionId: string, projectId: string, list: PostSignal[], read: DeliveryHealth, deps: DeliveryBatchDeps): Promise<void> {
  let before = read;
  for (let round = 0; round < 3; round++) {
    const { health: after, transitions } = foldSignals(before, list, deps.settings);
    if (!healthNeedsWrite(before, after)) return;
    if (await deps.stores.saveHealth(projectId, subscriptionId, before, after)) {
      for (const transition of transitions) {
        deps.report.metric(TRANSITION_METRICS[transition], 1);
        deps.report.info(`subscription health: ${transition}`, { projectId, subscriptionId });
      }
      // The probe closed the circuit: what it held is released now. The wake-up due (the
      // probe's, at the end of its lease, scheduled maybe after `before` was read) is taken
      // over, so the release does not wait for it.
      if (transitions.includes('circuit-closed') && (after.heldCount ?? 0) > 0) {
        const { wakeAt } = await deps.stores.getHealth(projectId, subscriptionId);
        // Not sent, the wake-up taken over is due again (sendWake puts it back): the release
        // then starts at the end of the probe's lease, and this batch's POSTs still count.
        await sendWake(after.lane, projectId, subscriptionId, wakeAt, Date.now(), deps).catch((error: unknown) =>
          deps.report.warn('could not start the release of held deliveries at once; it starts when the wake-up due comes', {
            subscriptionId,
            error: String(error),
          }),
        );
      }
      return;
    }
    before = await deps.stores.getHealth(projectId, subscriptionId);
  }
  deps.report.warn('delivery health not updated: it kept changing under concurrent deliveries', { subscriptionId });
}

/**
 * Auto-disable: a subscription whose deliveries die `autoDisableAfterDead` times in a row
 * is disabled; a success clears the streak (one write, only when there is a streak).
 */
export async function trackDeadStreaks(attempts: Attempt[], found: Map<string, Subscription>, deps: DeliveryBatchDeps): Promise<void> {
  const limit = deps.settings.autoDisableAfterDead;
  for (const attempt of attempts) {
    try {
      await trackDeadStreak(attempt, found, limit, deps);
    } catch (error) {
      // As for health: the POST is done, and failing the batch would POST it all again.
      deps.report.error('dead streak not updated', { subscriptionId: attempt.subscriptionId, webhookId: attempt.webhookId, error: String(error) });
    }
  }
}

/** One attempt's part in its subscription's dead streak: counted when it died, cleared when it went through. */
async function trackDeadStreak(attempt: Attempt, found: Map<string, Subscription>, limit: number, deps: DeliveryBatchDeps): Promise<void> {
  const action = deadStreakAction(attempt, found.get(attempt.subscriptionId));
  if (action === 'record-dead') {
    const disabled = await deps.stores.recordDeadDelivery(
      attempt.projectId,
      attempt.subscriptionId,
      attempt.webhookId,
      limit,
      `${limit} deliveries in a row exhausted their retries`,
    );
    if (disabled) {
      deps.report.warn('subscription disabled after repeated dead deliveries', {
        projectId: attempt.projectId,
        subscriptionId: attempt.subscriptionId,
      });
      deps.report.metric('SubscriptionAutoDisabled', 1);
    }
  } else if (action === 'reset') {
    await deps.stores.resetDeadDeliveries(attempt.projectId, attempt.subscriptionId);
  }
}
