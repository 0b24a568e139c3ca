import { EVENT_RULE_PATTERN, FAN_OUT, TABLE_KEYS } from '../../lambdas/core/settings';
import { StackTemplate, actionsOf, getAtt, ref, resourcesAllowing } from './stack-template';

const FAN_OUT_ENV = 'FAN_OUT_QUEUE_URL';
const DELIVERY_ENV = 'DELIVERY_LANE=fast';
const EXISTING_BUS_ARN = 'arn:aws:events:eu-west-1:123456789012:event-bus/x';

let stack: StackTemplate;
let fanOutFunctionId: string;
let fanOutQueueId: string;

beforeAll(() => {
  stack = StackTemplate.synth();
  fanOutFunctionId = stack.functionIdWithEnv(FAN_OUT_ENV);
  fanOutQueueId = stack.queueConsumedBy(fanOutFunctionId);
});

const deliveryQueueId = (): string => stack.queueConsumedBy(stack.functionIdWithEnv(DELIVERY_ENV));

describe('event bus', () => {
  it('is created and named tiledesk by default', () => {
    stack.template.resourceCountIs('AWS::Events::EventBus', 1);
    stack.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'tiledesk' });
  });

  it('takes its name from the busName prop', () => {
    const custom = StackTemplate.synth({ busName: 'tiledesk-staging' });
    custom.template.resourceCountIs('AWS::Events::EventBus', 1);
    custom.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'tiledesk-staging' });
  });

  it('is not created when an existing bus ARN is given: the rule, ingest and the output name it by that ARN', () => {
    const existing = StackTemplate.synth({ existingBus: EXISTING_BUS_ARN });
    existing.template.resourceCountIs('AWS::Events::EventBus', 0);
    // Its name alone would mean a bus of that name in the deploying account: EventBridge takes
    // the ARN to reach another account's bus (eb-event-bus-perms), and the name loses it.
    expect(existing.onlyRule().Properties.EventBusName).toBe(EXISTING_BUS_ARN);
    expect(existing.environmentOf('EVENT_BUS_NAME').EVENT_BUS_NAME).toBe(EXISTING_BUS_ARN);
    existing.template.hasOutput('EventBusName', { Value: EXISTING_BUS_ARN });
    existing.template.hasOutput('EventBusArn', { Value: EXISTING_BUS_ARN });
  });

  it("makes CloudFormation check that an existing bus is in the stack's region, or refuses at synth when both are known", () => {
    const existing = StackTemplate.synth({ existingBus: EXISTING_BUS_ARN });
    const rules = (existing.template.toJSON() as { Rules: Record<string, { Assertions: { Assert: unknown }[] }> }).Rules;
    expect(Object.values(rules).map((rule) => rule.Assertions[0]!.Assert)).toContainEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] });
    expect(() => StackTemplate.synth({ existingBus: EXISTING_BUS_ARN, env: { region: 'us-east-1', account: '123456789012' } })).toThrow(
      /^existingBus is in eu-west-1: deploy the stack to that region .*, not us-east-1$/,
    );
    expect(() => StackTemplate.synth({ existingBus: EXISTING_BUS_ARN, env: { region: 'eu-west-1', account: '123456789012' } })).not.toThrow();
  });

  it.each(['arn:aws:events:eu-west-1:123456789012:rule/x', 'shared bus', 'arn:aws:sqs:eu-west-1:123456789012:q'])('refuses existingBus %j, naming the setting', (value) => {
    expect(() => StackTemplate.synth({ existingBus: value })).toThrow(/^existingBus must be an event bus's name or its ARN/);
  });

  it('is not created when an existing bus name is given, and the rule listens on that bus', () => {
    const existing = StackTemplate.synth({ existingBus: 'shared-bus' });
    existing.template.resourceCountIs('AWS::Events::EventBus', 0);
    expect(existing.onlyRule().Properties.EventBusName).toBe('shared-bus');
  });
});

describe('queues that carry whole events', () => {
  it('take SQS\'s largest message (1 MiB), above a 256 KB entry in its EventBridge envelope', () => {
    const sizes = [fanOutQueueId, stack.ruleDeadLetterQueue()].map((id) => stack.resource('AWS::SQS::Queue', id).Properties.MaximumMessageSize);
    expect(sizes).toEqual([1_048_576, 1_048_576]);
    const redrive = stack.resource('AWS::SQS::Queue', fanOutQueueId).Properties.RedrivePolicy as { deadLetterTargetArn: unknown };
    const fanOutDlqId = (redrive.deadLetterTargetArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    expect(stack.resource('AWS::SQS::Queue', fanOutDlqId).Properties.MaximumMessageSize).toBe(1_048_576);
  });

  it('so do the delivery lanes and their DLQ: a delivery message is a whole payload plus its own fields', () => {
    // Every queue of the stack, then: none is left to a default (256 KiB in the SQS API reference).
    const queues = Object.entries(stack.template.findResources('AWS::SQS::Queue'));
    expect(queues.length).toBeGreaterThanOrEqual(6);
    for (const [id, queue] of queues) expect([id, (queue as { Properties: { MaximumMessageSize?: number } }).Properties.MaximumMessageSize]).toEqual([id, 1_048_576]);
  });
});

describe('event rule', () => {
  it('listens on the created bus with exactly the pattern the local stack applies', () => {
    expect(stack.onlyRule().Properties).toMatchObject({
      EventBusName: ref(stack.onlyLogicalId('AWS::Events::EventBus', {})),
      State: 'ENABLED',
    });
    expect(stack.onlyRule().Properties.EventPattern).toEqual(EVENT_RULE_PATTERN);
  });

  it('targets the fan-out queue, with a dead-letter queue and a day of retries', () => {
    const target = stack.onlyRuleTarget();
    expect(target.Arn).toEqual(getAtt(fanOutQueueId));
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 });
    const ruleDlqId = stack.ruleDeadLetterQueue();
    expect(ruleDlqId).not.toBe(fanOutQueueId);
    expect(target.DeadLetterConfig).toEqual({ Arn: getAtt(ruleDlqId) });
  });

  it('gives the fan-out queue no message group: EventBridge would send a path as written, every event one tenant', () => {
    expect(stack.onlyRuleTarget().SqsParameters).toBeUndefined();
    // A standard queue: FIFO would serialize the events of a group.
    expect(stack.resource('AWS::SQS::Queue', fanOutQueueId).Properties.FifoQueue).toBeUndefined();
  });

  it('may send to the fan-out queue: its policy allows events.amazonaws.com, for this rule only', () => {
    const ruleId = stack.onlyLogicalId('AWS::Events::Rule', {});
    expect(stack.queuePolicyStatementsOf(fanOutQueueId)).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Resource: getAtt(fanOutQueueId),
        Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId) } },
      }),
    );
  });

  it('may send to its dead-letter queue, so an undeliverable event is kept', () => {
    const ruleDlqId = stack.ruleDeadLetterQueue();
    const eventsStatements = stack
      .queuePolicyStatementsOf(ruleDlqId)
      .filter((statement) => JSON.stringify(statement.Principal) === JSON.stringify({ Service: 'events.amazonaws.com' }));
    expect(resourcesAllowing(eventsStatements, 'sqs:SendMessage')).toEqual([JSON.stringify(getAtt(ruleDlqId))]);
  });
});

describe('fan-out queue', () => {
  it('redrives to its own DLQ after FAN_OUT.maxReceiveCount receives', () => {
    const fanOutDlqId = stack.deadLetterQueueOf(fanOutQueueId);
    expect(fanOutDlqId).not.toBe(stack.ruleDeadLetterQueue());
    expect(stack.resource('AWS::SQS::Queue', fanOutQueueId).Properties).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: getAtt(fanOutDlqId), maxReceiveCount: FAN_OUT.maxReceiveCount },
      VisibilityTimeout: FAN_OUT.visibilityTimeoutSeconds,
    });
  });

  it('feeds the fan-out function in batches, with partial batch failures, at most as many at once as it reserves', () => {
    expect(stack.eventSourceMappingOf(fanOutFunctionId).Properties).toEqual({
      EventSourceArn: getAtt(fanOutQueueId),
      FunctionName: ref(fanOutFunctionId),
      BatchSize: FAN_OUT.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: FAN_OUT.maxConcurrency },
    });
    expect(stack.functionWithEnv(FAN_OUT_ENV).Properties.ReservedConcurrentExecutions).toBe(FAN_OUT.maxConcurrency);
  });
});

describe('fan-out function', () => {
  it('times out as FAN_OUT says', () => {
    expect(stack.functionWithEnv(FAN_OUT_ENV).Properties.Timeout).toBe(FAN_OUT.functionTimeoutSeconds);
  });

  it('knows the table, the delivery queue and its own queue', () => {
    expect(stack.environmentOf(FAN_OUT_ENV)).toMatchObject({
      TABLE_NAME: ref(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {})),
      DELIVERY_QUEUE_URL: ref(deliveryQueueId()),
      FAN_OUT_QUEUE_URL: ref(fanOutQueueId),
    });
  });
});

describe('fan-out least privilege', () => {
  const statements = (): ReturnType<StackTemplate['statementsOf']> => stack.statementsOf(stack.functionWithEnv(FAN_OUT_ENV));

  it('may send messages to the delivery queue and nowhere else', () => {
    expect(resourcesAllowing(statements(), 'sqs:SendMessage')).toEqual([JSON.stringify(getAtt(deliveryQueueId()))]);
  });

  it('may consume its own queue, and shorten the visibility of failed records', () => {
    const ownQueue = JSON.stringify(getAtt(fanOutQueueId));
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
      expect({ action, resources: resourcesAllowing(statements(), action) }).toEqual({ action, resources: [ownQueue] });
    }
    expect(resourcesAllowing(statements(), 'sqs:GetQueueAttributes')).toContain(ownQueue);
  });

  it('may query the table (the subscriptions\' uniqueness guards), and the unused topic index one more release', () => {
    const table = getAtt(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {}));
    const topicIndex = JSON.stringify({ 'Fn::Join': ['', [table, `/index/${TABLE_KEYS.legacyTopicIndex.name}`]] });
    expect(resourcesAllowing(statements(), 'dynamodb:Query').sort()).toEqual([JSON.stringify(table), topicIndex].sort());
  });

  it.each([
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Scan',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
  ])(
    'may not %s anywhere',
    (action) => {
      expect(resourcesAllowing(statements(), action)).toEqual([]);
    },
  );

  it('may write items to the table (each event\'s payload, once), and nowhere else', () => {
    const table = getAtt(stack.onlyLogicalId('AWS::DynamoDB::GlobalTable', {}));
    expect(resourcesAllowing(statements(), 'dynamodb:BatchWriteItem')).toEqual([JSON.stringify(table)]);
  });

  it('has no Secrets Manager action', () => {
    expect(actionsOf(statements()).filter((action) => action.toLowerCase().startsWith('secretsmanager:'))).toEqual([]);
    expect(resourcesAllowing(statements(), 'secretsmanager:GetSecretValue')).toEqual([]);
  });
});
