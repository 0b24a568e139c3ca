import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY, deliveryMaxReceiveCount } from '../../lib/settings';
import { MAX_VISIBILITY_SECONDS } from '../../lambdas/core/retry-schedule';
import { PolicyStatement, StackTemplate, actionsOf, getAtt, ref, resourcesAllowing } from './stack-template';

const DELIVERY_ENV = 'RETRY_SCHEDULE';
/** SQS keeps a message 4 days unless the queue says otherwise. */
const SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600;

let stack: StackTemplate;
let deliveryFunctionId: string;
let deliveryQueueId: string;

beforeAll(() => {
  stack = StackTemplate.synth();
  deliveryFunctionId = stack.functionIdWithEnv(DELIVERY_ENV);
  deliveryQueueId = stack.queueConsumedBy(deliveryFunctionId);
});

interface QueueProperties {
  VisibilityTimeout?: number;
  MessageRetentionPeriod?: number;
  RedrivePolicy?: { deadLetterTargetArn: unknown; maxReceiveCount: number };
}

const deliveryQueueOf = (template: StackTemplate): QueueProperties =>
  template.resource('AWS::SQS::Queue', template.queueConsumedBy(template.functionIdWithEnv(DELIVERY_ENV)))
    .Properties as QueueProperties;

describe('delivery queue', () => {
  it('redrives to its DLQ after one receive per attempt of the default schedule', () => {
    expect(deliveryMaxReceiveCount(DEFAULT_RETRY_SCHEDULE_SECONDS)).toBe(8);
    const dlqId = stack.deadLetterQueueOf(deliveryQueueId);
    expect(dlqId).not.toBe(deliveryQueueId);
    expect(stack.resource('AWS::SQS::Queue', deliveryQueueId).Properties).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: getAtt(dlqId), maxReceiveCount: 8 },
      VisibilityTimeout: DELIVERY.visibilityTimeoutSeconds,
    });
  });

  it('follows a custom retry schedule: receive count and the function both', () => {
    const custom = StackTemplate.synth({ retrySchedule: [1, 2, 3] });
    expect(deliveryQueueOf(custom).RedrivePolicy?.maxReceiveCount).toBe(4);
    expect(custom.environmentOf(DELIVERY_ENV).RETRY_SCHEDULE).toBe('1,2,3');
  });

  // Retention counts from the first enqueue and ChangeMessageVisibility does not reset it: a
  // message older than the retention period is deleted, never reaching the DLQ or the attempt log.
  // A subscriber's Retry-After may push every retry to the 12 h visibility cap.
  it.each<[string, readonly number[] | undefined]>([
    ['the default schedule', undefined],
    ['a schedule of ten 10 h retries (100 h nominal)', Array.from({ length: 10 }, () => 36_000)],
  ])('keeps a message long enough to reach the DLQ with %s', (_name, retrySchedule) => {
    const synthesized = retrySchedule ? StackTemplate.synth({ retrySchedule }) : stack;
    const schedule = retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
    const attempts = deliveryMaxReceiveCount(schedule);
    const longestLife = schedule.length * MAX_VISIBILITY_SECONDS + attempts * DELIVERY.functionTimeoutSeconds;
    const retention = deliveryQueueOf(synthesized).MessageRetentionPeriod ?? SQS_DEFAULT_RETENTION_SECONDS;
    expect(retention).toBeGreaterThanOrEqual(longestLife);
  });

  it('feeds the delivery function in batches, with partial batch failures and bounded concurrency', () => {
    const mapping = stack.eventSourceMappingOf(deliveryFunctionId).Properties;
    expect(mapping).toMatchObject({
      EventSourceArn: getAtt(deliveryQueueId),
      BatchSize: DELIVERY.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: DELIVERY.maxConcurrency },
    });
    expect(mapping.MaximumBatchingWindowInSeconds ?? 0).toBe(DELIVERY.maxBatchingWindowSeconds);
  });
});

describe('delivery function', () => {
  it('times out as DELIVERY says', () => {
    expect(stack.functionWithEnv(DELIVERY_ENV).Properties.Timeout).toBe(DELIVERY.functionTimeoutSeconds);
  });

  it('gets the table, its queue and the delivery settings', () => {
    expect(stack.environmentOf(DELIVERY_ENV)).toMatchObject({
      TABLE_NAME: ref(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {})),
      DELIVERY_QUEUE_URL: ref(deliveryQueueId),
      RETRY_SCHEDULE: '5,300,1800,7200,18000,36000,36000',
      DELIVERY_TIMEOUT_MS: '10000',
      TARGET_ALLOWLIST: '',
      ATTEMPT_LOG_TTL_DAYS: String(DELIVERY.attemptLogTtlDays),
    });
  });

  it('takes the delivery timeout and the target allowlist from the stack props', () => {
    const custom = StackTemplate.synth({ deliveryTimeoutMs: 2500, targetAllowlist: '10.0.0.0/8,hooks.internal' });
    expect(custom.environmentOf(DELIVERY_ENV)).toMatchObject({
      DELIVERY_TIMEOUT_MS: '2500',
      TARGET_ALLOWLIST: '10.0.0.0/8,hooks.internal',
    });
  });
});

describe('delivery least privilege', () => {
  const statements = (): PolicyStatement[] => stack.statementsOf(stack.functionWithEnv(DELIVERY_ENV));

  it('may batch-read subscriptions, batch-write attempt logs, update and delete items of the table, and no more', () => {
    const table = JSON.stringify(getAtt(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {})));
    for (const action of ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
      expect({ action, resources: resourcesAllowing(statements(), action) }).toEqual({ action, resources: [table] });
    }
    for (const action of ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:DescribeTable']) {
      expect({ action, resources: resourcesAllowing(statements(), action) }).toEqual({ action, resources: [] });
    }
  });

  it('may consume the delivery queue and reschedule its messages, and no other queue', () => {
    const queue = JSON.stringify(getAtt(deliveryQueueId));
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes']) {
      expect({ action, resources: resourcesAllowing(statements(), action) }).toEqual({ action, resources: [queue] });
    }
  });

  it('may not send a message anywhere', () => {
    expect(resourcesAllowing(statements(), 'sqs:SendMessage')).toEqual([]);
  });

  it('has no Secrets Manager action', () => {
    expect(actionsOf(statements()).filter((action) => action.toLowerCase().startsWith('secretsmanager:'))).toEqual([]);
    expect(resourcesAllowing(statements(), 'secretsmanager:GetSecretValue')).toEqual([]);
  });
});
