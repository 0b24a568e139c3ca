import { randomUUID } from 'node:crypto';
import { DeliveryDeps } from '../core/deliver';
import { TooManyRequestsError } from '../core/errors';
import { OPERATOR_SELECT_EVENT } from '../core/event-catalog';
import { RoutingRequest, Selection, selectOperators } from '../core/operator-select';
import { RequestLimit } from '../core/request-limit';
import { AttemptLogStore } from './attempt-log-store';
import { logger, metrics } from './observability';
import { RequestLimitStore } from './request-limit-store';
import { SubscriptionStore } from './subscription-store';

/**
 * Routes one operator.select request through the project's hook: counts it against the
 * project's share of calls, finds the hook, asks it, logs the call. Past validation nothing
 * fails the caller (DESIGN §6): over the share, or on a failure inside the service, the answer
 * is the default routing, and a log that cannot be written is reported but never replaces the
 * hook's answer. Shared by `POST /{projectId}/operator-select` and Tiledesk's ingest, so a
 * routing call is counted in the same bucket whichever way it comes, apart from published events.
 */
export function operatorSelectRouter(deps: {
  subscriptions: SubscriptionStore;
  attemptLogs: AttemptLogStore;
  sender: Pick<DeliveryDeps, 'post' | 'origin'>;
  calls: { store: RequestLimitStore; limit: RequestLimit };
}): (request: RoutingRequest) => Promise<Selection> {
  return async (request) => {
    let selection: Selection;
    try {
      const over = await overLimit(deps.calls, request);
      if (over) return over;
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

/**
 * Over the project's share of calls, the default routing without asking the hook (the request's
 * own operators): the platform gets an answer, never an error, and the hook is spared.
 */
async function overLimit(calls: { store: RequestLimitStore; limit: RequestLimit }, request: RoutingRequest): Promise<Selection | undefined> {
  try {
    await calls.store.take('operator-select', request.id_project, calls.limit, `project ${request.id_project}`);
    return undefined;
  } catch (error) {
    if (!(error instanceof TooManyRequestsError)) throw error;
    metrics.addMetric('OperatorSelectOverLimit', 'Count', 1);
    logger.info('operator.select', { projectId: request.id_project, path: 'default', reason: 'over limit' });
    return { result: request, path: 'default', reason: `over the project's limit of calls, for ${error.retryAfterSeconds} s` };
  }
}
