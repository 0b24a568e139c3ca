import { DELIVERY, DELIVERY_RETENTION_SECONDS } from '../../lambdas/core/settings';
import { PolicyStatement, StackTemplate, actionsOf, getAtt, ref, resourcesAllowing } from './stack-template';

let stack: StackTemplate;
let fastId: string;
let slowId: string;
let fastQueueId: string;
let slowQueueId: string;

beforeAll(() => {
  stack = StackTemplate.synth();
  fastId = stack.functionIdWithEnvValue('DELIVERY_LANE', 'fast');
  slowId = stack.functionIdWithEnvValue('DELIVERY_LANE', 'slow');
  fastQueueId = stack.queueConsumedBy(fastId);
  slowQueueId = stack.queueConsumedBy(slowId);
});

interface QueueProperties {
  VisibilityTimeout?: number;
  MessageRetentionPeriod?: number;
  RedrivePolicy?: { deadLetterTargetArn: unknown; maxReceiveCount: number };
}

const queue = (id: string): QueueProperties => stack.resource('AWS::SQS::Queue', id).Properties as QueueProperties;
const environment = (template: StackTemplate, id: string): Record<string, unknown> =>
  (template.resource('AWS::Lambda::Function', id).Properties.Environment as { Variables: Record<string, unknown> }).Variables;

describe('delivery lanes', () => {
  it('gives each lane its own queue and function', () => {
    expect(fastQueueId).not.toBe(slowQueueId);
    expect(fastId).not.toBe(slowId);
  });

  // Attempts travel in the message, so the receive count only catches poison: a message whose
  // invocation keeps failing before it is handled. The schedule's length plays no part.
  it.each([
    ['fast', () => fastQueueId],
    ['slow', () => slowQueueId],
  ])('the %s lane redrives poison to the one DLQ after a few receives, whatever the schedule', (_lane, queueId) => {
    const dlqId = stack.deadLetterQueueOf(queueId());
    expect(dlqId).toBe(stack.deadLetterQueueOf(fastQueueId));
    expect(queue(queueId())).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: getAtt(dlqId), maxReceiveCount: DELIVERY.poisonReceiveCount },
      VisibilityTimeout: DELIVERY.visibilityTimeoutSeconds,
      MessageRetentionPeriod: DELIVERY_RETENTION_SECONDS,
    });
    const custom = StackTemplate.synth({ retrySchedule: [1, 2, 3] });
    const customQueue = custom.queueConsumedBy(custom.functionIdWithEnvValue('DELIVERY_LANE', 'fast'));
    expect((custom.resource('AWS::SQS::Queue', customQueue).Properties as QueueProperties).RedrivePolicy?.maxReceiveCount).toBe(
      DELIVERY.poisonReceiveCount,
    );
  });

  // Each wait is a new message, so retention need not outlast the schedule: a schedule of ten
  // 10 h retries synthesizes with the same 10-day retention.
  it('accepts schedules longer than SQS could hold a message in flight', () => {
    const long = StackTemplate.synth({ retrySchedule: Array.from({ length: 10 }, () => 36_000) });
    const longFast = long.functionIdWithEnvValue('DELIVERY_LANE', 'fast');
    expect(environment(long, longFast).RETRY_SCHEDULE).toBe(Array.from({ length: 10 }, () => '36000').join(','));
    expect((long.resource('AWS::SQS::Queue', long.queueConsumedBy(longFast)).Properties as QueueProperties).MessageRetentionPeriod).toBe(
      DELIVERY_RETENTION_SECONDS,
    );
  });

  it('refuses a schedule that is not whole seconds', () => {
    expect(() => StackTemplate.synth({ retrySchedule: [5, 1.5] })).toThrow(/whole seconds/);
  });

  it.each([
    ['fast', () => fastId, () => fastQueueId, DELIVERY.maxConcurrency],
    ['slow', () => slowId, () => slowQueueId, DELIVERY.slowLaneMaxConcurrency],
  ])('feeds the %s lane in batches, with partial batch failures, no batching window and its own concurrency', (_lane, fnId, queueId, concurrency) => {
    const mapping = stack.eventSourceMappingOf(fnId()).Properties;
    expect(mapping).toMatchObject({
      EventSourceArn: getAtt(queueId()),
      BatchSize: DELIVERY.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: concurrency },
    });
    expect(mapping.MaximumBatchingWindowInSeconds ?? 0).toBe(0);
  });
});

describe('delivery functions', () => {
  it('time out as DELIVERY says', () => {
    for (const id of [fastId, slowId]) {
      expect(stack.resource('AWS::Lambda::Function', id).Properties.Timeout).toBe(DELIVERY.functionTimeoutSeconds);
    }
  });

  it('get the table, every queue they send to and the delivery settings', () => {
    const dlqId = stack.deadLetterQueueOf(fastQueueId);
    for (const [id, lane] of [
      [fastId, 'fast'],
      [slowId, 'slow'],
    ] as const) {
      expect(environment(stack, id)).toMatchObject({
        TABLE_NAME: ref(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {})),
        DELIVERY_LANE: lane,
        DELIVERY_QUEUE_URL: ref(fastQueueId),
        SLOW_DELIVERY_QUEUE_URL: ref(slowQueueId),
        DELIVERY_DLQ_URL: ref(dlqId),
        RETRY_SCHEDULE: '5,300,1800,7200,18000,36000,36000',
        DELIVERY_TIMEOUT_MS: '10000',
        FAST_LANE_TIMEOUT_MS: String(DELIVERY.fastLaneTimeoutMs),
        FAST_LANE_ANSWER_MS: String(DELIVERY.fastLaneAnswerMs),
        TARGET_ALLOWLIST: '',
        ATTEMPT_LOG_TTL_DAYS: String(DELIVERY.attemptLogTtlDays),
        CIRCUIT_COOLDOWN_SECONDS: '30',
      });
    }
  });

  it('take the delivery timeout and the target allowlist from the stack props', () => {
    const custom = StackTemplate.synth({ deliveryTimeoutMs: 2500, targetAllowlist: '10.0.0.0/8,hooks.internal' });
    expect(environment(custom, custom.functionIdWithEnvValue('DELIVERY_LANE', 'slow'))).toMatchObject({
      DELIVERY_TIMEOUT_MS: '2500',
      TARGET_ALLOWLIST: '10.0.0.0/8,hooks.internal',
    });
  });

  it('take the circuit\'s first cool-down from the stack props, and refuse one that cannot work', () => {
    const custom = StackTemplate.synth({ circuitCooldownSeconds: 5 });
    for (const lane of ['fast', 'slow']) {
      expect(environment(custom, custom.functionIdWithEnvValue('DELIVERY_LANE', lane))).toMatchObject({ CIRCUIT_COOLDOWN_SECONDS: '5' });
    }
    for (const seconds of [0, 2.5, 1801]) {
      expect(() => StackTemplate.synth({ circuitCooldownSeconds: seconds })).toThrow(/^circuitCooldownSeconds must be a whole number of seconds, 1–1800; got /);
    }
  });
});

describe('delivery least privilege', () => {
  const statements = (id: string): PolicyStatement[] => stack.statementsOf(stack.resource('AWS::Lambda::Function', id));

  it('may only read and write items of the table and query its base table (held deliveries); no scan, index or describe', () => {
    const table = JSON.stringify(getAtt(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {})));
    for (const id of [fastId, slowId]) {
      for (const action of [
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
      ]) {
        expect({ action, resources: resourcesAllowing(statements(id), action) }).toEqual({ action, resources: [table] });
      }
      for (const action of ['dynamodb:Scan', 'dynamodb:DescribeTable']) {
        expect({ action, resources: resourcesAllowing(statements(id), action) }).toEqual({ action, resources: [] });
      }
    }
  });

  it('consumes only its own lane and sends only to the lanes and the DLQ', () => {
    const dlq = JSON.stringify(getAtt(stack.deadLetterQueueOf(fastQueueId)));
    const [fast, slow] = [JSON.stringify(getAtt(fastQueueId)), JSON.stringify(getAtt(slowQueueId))];
    expect(resourcesAllowing(statements(fastId), 'sqs:ReceiveMessage')).toEqual([fast]);
    expect(resourcesAllowing(statements(slowId), 'sqs:ReceiveMessage')).toEqual([slow]);
    for (const id of [fastId, slowId]) {
      expect(resourcesAllowing(statements(id), 'sqs:SendMessage').sort()).toEqual([fast, slow, dlq].sort());
    }
  });

  it('has no Secrets Manager action', () => {
    for (const id of [fastId, slowId]) {
      expect(actionsOf(statements(id)).filter((action) => action.toLowerCase().startsWith('secretsmanager:'))).toEqual([]);
    }
  });
});
