import { randomUUID } from 'node:crypto';
import { DeliveryDeps } from '../core/deliver';
import { OPERATOR_SELECT_EVENT } from '../core/event-catalog';
import { RoutingRequest, Selection, selectOperators } from '../core/operator-select';
import { AttemptLogStore } from './attempt-log-store';
import { logger, metrics } from './observability';
import { SubscriptionStore } from './subscription-store';

/**
 * Routes one operator.select request through the project's hook: finds it, asks it, logs the
 * call. Past validation nothing fails the caller: a failure inside the service means the
 * default routing, and a log that cannot be written is reported but never replaces the hook's
 * answer. Shared by `POST /{projectId}/operator-select` and Tiledesk's ingest.
 */
export function operatorSelectRouter(deps: {
  subscriptions: SubscriptionStore;
  attemptLogs: AttemptLogStore;
  sender: Pick<DeliveryDeps, 'post' | 'origin'>;
}): (request: RoutingRequest) => Promise<Selection> {
  return async (request) => {
    let selection: Selection;
    try {
      const [id] = await deps.subscriptions.findByTopic(request.id_project, OPERATOR_SELECT_EVENT);
      const hook = id ? await deps.subscriptions.get(request.id_project, id) : undefined;
      selection = await selectOperators(request, hook, `msg_opsel_${randomUUID()}`, deps.sender);
    } catch (error) {
      logger.error('operator.select failed inside the service; default routing used', error as Error);
      selection = { result: request, path: 'default', reason: 'internal error' };
    }
    if (selection.attempt) {
      await deps.attemptLogs.write([selection.attempt]).catch((error: unknown) => {
        logger.error('operator.select attempt could not be logged; the routing stands', error as Error);
        metrics.addMetric('AttemptLogUnwritable', 'Count', 1);
      });
    }
    metrics.addMetric(selection.path === 'hook' ? 'OperatorSelectHook' : 'OperatorSelectDefault', 'Count', 1);
    logger.info('operator.select', { projectId: request.id_project, path: selection.path, reason: selection.reason });
    return selection;
  };
}
