import * as z from 'zod';
import { Attempt, newLogId } from './attempt';
import { DeliveryDeps, isSuccess, postSigned } from './deliver';
import { OPERATOR_SELECT_EVENT } from './event-catalog';
import { MAX_JSON_DEPTH, jsonDepth } from './json-text';
import { Subscription } from './subscription';

const operatorSchema = z.looseObject({ id_user: z.string().min(1) });

/** Tiledesk's routing payload (DESIGN §6); fields the service does not read pass through. */
export const routingRequestSchema = z.looseObject({
  id_project: z.string().min(1),
  operators: z.array(operatorSchema).default([]),
  agents: z.array(z.unknown()).optional(),
  available_agents: z.array(z.unknown()).optional(),
  department: z.unknown().optional(),
  group: z.unknown().optional(),
  project: z.unknown().optional(),
  context: z.unknown().optional(),
  lastOperatorId: z.string().optional(),
});
export type RoutingRequest = z.infer<typeof routingRequestSchema>;

/**
 * The answer a hook must give to win: an `operators` array of `{id_user}`. An empty one wins
 * too, as in Tiledesk (which takes any answer carrying `operators`): it leaves the
 * conversation unassigned.
 */
const hookAnswerSchema = z.looseObject({
  operators: z.array(operatorSchema),
  department: z.unknown().optional(),
  agents: z.array(z.unknown()).optional(),
});

/** Which routing was used, for the response header and the log. */
export type SelectionPath = 'hook' | 'default';

export interface Selection {
  result: RoutingRequest;
  path: SelectionPath;
  reason: string;
  attempt?: Attempt;
}

/**
 * Asks the project's operator.select hook to choose the agents. The hook's answer wins only
 * when it is a 2xx JSON object with an `operators` array, even empty; `department` and `agents`
 * come from the request when it leaves them out. Anything else — no hook, a disabled one, a
 * non-2xx, a timeout, invalid JSON, JSON nested deeper than a request may be, no `operators`
 * field or a malformed one — gives the default routing: the request's own suggested operators.
 * This function never throws because of the subscriber.
 */
export async function selectOperators(
  request: RoutingRequest,
  hook: Subscription | undefined,
  webhookId: string,
  deps: Pick<DeliveryDeps, 'post' | 'origin' | 'now'>,
): Promise<Selection> {
  // The hook is found by its guard, which an update that moves the subscription to another event
  // releases only after rewriting it (or never, if that release fails): such a subscription is
  // not the project's hook and must not get the routing request, signed with its secret.
  if (!hook || hook.event !== OPERATOR_SELECT_EVENT) return { result: request, path: 'default', reason: 'no operator.select subscription' };
  if (hook.status !== 'active') return { result: request, path: 'default', reason: 'operator.select subscription disabled' };

  const at = deps.now?.() ?? new Date();
  const response = await postSigned(hook, webhookId, request, at, deps);
  const attempt: Attempt = {
    logId: newLogId(at),
    projectId: request.id_project,
    subscriptionId: hook._id,
    webhookId,
    eventId: webhookId,
    event: OPERATOR_SELECT_EVENT,
    target: hook.target,
    attempt: 1,
    outcome: 'failed',
    statusCode: response.statusCode,
    durationMs: response.durationMs,
    error: response.error,
    errorKind: response.errorKind,
    responseBody: response.body || undefined,
    attemptedAt: at.toISOString(),
    payload: request,
  };
  const fallback = (reason: string): Selection => ({
    result: request,
    path: 'default',
    reason,
    attempt: { ...attempt, error: `${attempt.error ?? reason}; default routing used` },
  });

  if (!isSuccess(response)) return fallback(response.error ?? `hook answered ${response.statusCode}`);
  let answer: unknown;
  try {
    // The hook's own answer as it sent it: the redacted text is for the attempt log only.
    answer = JSON.parse(response.receivedBody ?? response.body);
  } catch {
    return fallback('hook answer is not JSON');
  }
  // The answer goes back to Tiledesk, whose own JSON code (and ours past this point) need not
  // take any depth: one nested deeper than a request may be is not an answer to pass on.
  if (jsonDepth(answer) > MAX_JSON_DEPTH) return fallback(`hook answer nests deeper than ${MAX_JSON_DEPTH} levels`);
  const parsed = hookAnswerSchema.safeParse(answer);
  if (!parsed.success) return fallback('hook answer has no operators');
  return {
    result: {
      ...request,
      operators: parsed.data.operators,
      department: parsed.data.department ?? request.department,
      agents: parsed.data.agents ?? request.agents,
    },
    path: 'hook',
    reason: 'chosen by the operator.select hook',
    attempt: { ...attempt, outcome: 'delivered' },
  };
}
