import { DELIVERY } from '../../lambdas/core/settings';
import { StackTemplate } from './stack-template';

/**
 * Attempt logs are kept a week by default (their storage is a large part of the cost per
 * delivery, docs/design.md §3.12); a deployment opts into longer with `attemptLogRetentionDays`.
 * Every function that writes attempts keeps them equally long.
 */
const loggingFunctions = (stack: StackTemplate): Record<string, unknown>[] =>
  Object.values(stack.resources('AWS::Lambda::Function'))
    .map((fn) => ((fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}))
    .filter((variables) => 'ATTEMPT_LOG_TTL_DAYS' in variables);

test('by default, attempt logs are kept 7 days by every function that writes them', () => {
  expect(DELIVERY.attemptLogTtlDays).toBe(7);
  const functions = loggingFunctions(StackTemplate.synth());
  // fast lane, slow lane, the subscriptions API (test pings), operator.select, Tiledesk ingest
  // (operator.select through it) and the fan-out (events' payloads, stored once for the
  // attempts, outlive them by a few days)
  expect(functions).toHaveLength(6);
  for (const variables of functions) expect(variables.ATTEMPT_LOG_TTL_DAYS).toBe('7');
});

test('attemptLogRetentionDays keeps them longer, in every function alike', () => {
  const functions = loggingFunctions(StackTemplate.synth({ attemptLogRetentionDays: 30 }));
  expect(functions).toHaveLength(6);
  for (const variables of functions) expect(variables.ATTEMPT_LOG_TTL_DAYS).toBe('30');
});

test('claim-checked payloads outlive everything that points at them, on the longest path of DLQs, queues and logs', () => {
  const expiration = (stack: StackTemplate) =>
    Object.values(stack.resources('AWS::S3::Bucket')).flatMap(
      (bucket) => ((bucket.Properties.LifecycleConfiguration as { Rules?: { ExpirationInDays?: number }[] } | undefined)?.Rules ?? []).map((rule) => rule.ExpirationInDays),
    );
  // A rule or fan-out DLQ (14), a lane (10), the retries (2), the delivery DLQ (14), the logs, a day.
  expect(expiration(StackTemplate.synth())).toEqual([14 + 10 + 2 + 14 + 7 + 1]);
  expect(expiration(StackTemplate.synth({ attemptLogRetentionDays: 30 }))).toEqual([14 + 10 + 2 + 14 + 30 + 1]);
});

test('a retention that is not whole days of at least 1 is refused at synth, naming the setting', () => {
  for (const days of [0, 2.5, Number.NaN]) {
    expect(() => StackTemplate.synth({ attemptLogRetentionDays: days })).toThrow(/^attemptLogRetentionDays must be a whole number of days, at least 1; got /);
  }
});
