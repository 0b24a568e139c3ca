import { Duration } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnRule as CfnEventRule, EventBus, IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseExistingBus, requireStackRegion } from './setting-checks';
import { stackOutput } from './stack-output';
import { DLQ_RETENTION_DAYS, EVENT_RULE_PATTERN, FAN_OUT, TABLE_KEYS } from '../lambdas/core/settings';
import { LEGACY_TOPIC_INDEX_QUERY, WebhookFunction, acknowledge } from './webhook-function';

/**
 * How the rule DLQ's events go back. They are EventBridge's dead letters, not an SQS queue's, so
 * an SQS message move task (npm run redrive-dlq) cannot serve this DLQ; the replay command sends
 * each event, unchanged and under its event id, to the fan-out queue.
 */
export const RULE_DLQ_REMEDY =
  'replay its events to the fan-out queue with npm run replay-rule-dlq -- --dlq-url <EventRuleDlqUrl output> (not redrive-dlq: this is the event rule target\'s DLQ, which SQS message move tasks do not serve)';

/** Props of {@link EventRouting}. */
export interface EventRoutingProps {
  readonly table: ITable;
  /** Where the fan-out sends one message per (event, subscription). */
  readonly deliveryQueue: IQueue;
  /** Name of the bus to create. @default 'tiledesk' */
  readonly busName?: string;
  /**
   * Use this existing bus instead of creating one: its name (in the stack's account), or its ARN
   * (another account's bus too, whose policy must let this account manage its rules and put
   * events; in the stack's region, where the rule's target queue is).
   */
  readonly existingBus?: string;
}

/**
 * Events in: the EventBridge bus, the rule matching `source: tiledesk` (the same pattern the
 * local stack applies), the fan-out queue with its DLQ, and the fan-out function that turns each
 * event into delivery messages. The rule target has its own DLQ and retry policy, so an event
 * EventBridge cannot hand to the queue is kept, never dropped.
 */
export class EventRouting extends Construct {
  readonly bus: IEventBus;
  /**
   * What names the bus in `PutEvents` and the rule: its name, or the ARN `existingBus` gave (a
   * name alone would mean a bus of that name in the stack's own account).
   */
  readonly busReference: string;
  readonly fanOutQueue: Queue;
  readonly fanOutDlq: Queue;
  readonly ruleDlq: Queue;
  readonly fanOutFunction: WebhookFunction;

  constructor(scope: Construct, id: string, props: EventRoutingProps) {
    super(scope, id);
    const existing = props.existingBus === undefined ? undefined : parseExistingBus(props.existingBus);
    this.bus = existing
      ? existing.arn
        ? EventBus.fromEventBusArn(this, 'Bus', props.existingBus!)
        : EventBus.fromEventBusName(this, 'Bus', existing.name)
      : new EventBus(this, 'Bus', { eventBusName: props.busName ?? 'tiledesk' });
    this.busReference = existing?.arn ? props.existingBus! : this.bus.eventBusName;
    // An EventBridge rule's SQS target must be in the rule's region, so an existing bus must be in the stack's.
    if (existing?.arn) {
      requireStackRegion(this, 'ExistingBusRegion', existing.arn.region, `existingBus is in ${existing.arn.region}: deploy the stack to that region (the rule's target queue must be in the bus's region)`);
    }

    // These queues carry whole EventBridge events: a 256 KB entry arrives in an envelope
    // (id, account, time, region, …) a few hundred bytes larger, which SQS's long-standing default
    // maximum (256 KiB) would refuse, sending the event to the rule DLQ. Set, not left to a default.
    const queueDefaults = {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: FAN_OUT.maxMessageSizeBytes,
    } as const;
    this.fanOutDlq = new Queue(this, 'FanOutDlq', { ...queueDefaults, retentionPeriod: Duration.days(DLQ_RETENTION_DAYS) });
    this.fanOutQueue = new Queue(this, 'FanOutQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(FAN_OUT.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.fanOutDlq, maxReceiveCount: FAN_OUT.maxReceiveCount },
    });
    this.ruleDlq = new Queue(this, 'RuleDlq', { ...queueDefaults, retentionPeriod: Duration.days(DLQ_RETENTION_DAYS) });
    acknowledge(this.ruleDlq, {
      'AwsSolutions::AwsSolutions-SQS3': 'This queue is the DLQ of the EventBridge rule target, set on the rule, not by a redrive policy.',
    });

    const rule = new Rule(this, 'TiledeskEvents', {
      eventBus: this.bus,
      description: 'Every Tiledesk event to the webhook fan-out queue',
      eventPattern: { source: [...EVENT_RULE_PATTERN.source] },
      targets: [
        new SqsQueue(this.fanOutQueue, {
          deadLetterQueue: this.ruleDlq,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          // No messageGroupId: EventBridge sends SqsParameters.MessageGroupId as written (dynamic
          // paths are documented for ECS, HTTP, Redshift and SageMaker target parameters only), so
          // a path would make every event one tenant. The fan-out queue is not fair by project
          // (docs/design.md §3.2, "The fan-out queue").
        }),
      ],
    });

    // CDK names the bus by its name alone, which EventBridge reads as a bus in this account.
    if (existing?.arn) (rule.node.defaultChild as CfnEventRule).eventBusName = props.existingBus;

    this.fanOutFunction = new WebhookFunction(this, 'FanOut', {
      handlerFile: 'fan-out',
      description: 'Fans each Tiledesk event out to its subscribers',
      timeout: Duration.seconds(FAN_OUT.functionTimeoutSeconds),
      // A burst of events scales the fan-out up to this and no further, so it cannot starve
      // delivery and the API of the account's executions (docs/design.md §3.12).
      reservedConcurrency: FAN_OUT.maxConcurrency,
      environment: {
        DELIVERY_QUEUE_URL: props.deliveryQueue.queueUrl,
        FAN_OUT_QUEUE_URL: this.fanOutQueue.queueUrl,
      },
    })
      // Subscriber ids come from the project's uniqueness guards (a consistent Query); the rest
      // of the table is only written: each event's payload, once, for its attempts to refer to
      // (BatchWriteItem).
      .bindTable(props.table, {
        table: ['dynamodb:Query', 'dynamodb:BatchWriteItem'],
        // Guards' keys and subscription ids only: never a subscription's secret. (Key attributes
        // of the table and its index must be listed, per DynamoDB's fine-grained access rules.)
        queryAttributes: [
          TABLE_KEYS.partitionKey,
          TABLE_KEYS.sortKey,
          'subscriptionId',
          TABLE_KEYS.legacyTopicIndex.partitionKey,
          TABLE_KEYS.legacyTopicIndex.sortKey,
        ],
        indexes: LEGACY_TOPIC_INDEX_QUERY,
      })
      .grantSendTo(props.deliveryQueue);
    this.fanOutFunction.function.addEventSource(
      new SqsEventSource(this.fanOutQueue, {
        batchSize: FAN_OUT.batchSize,
        // No batching window by default: a lone event is fanned out at once.
        maxBatchingWindow: FAN_OUT.maxBatchingWindowSeconds > 0 ? Duration.seconds(FAN_OUT.maxBatchingWindowSeconds) : undefined,
        reportBatchItemFailures: true,
        // As many as are reserved: more would only be throttled.
        maxConcurrency: FAN_OUT.maxConcurrency,
      }),
    );

    stackOutput(this, 'EventBusName', this.busReference, 'Publish Tiledesk events here (PutEvents EventBusName)');
    stackOutput(this, 'EventBusArn', this.bus.eventBusArn);
    stackOutput(this, 'FanOutQueueUrl', this.fanOutQueue.queueUrl);
    stackOutput(this, 'FanOutDlqUrl', this.fanOutDlq.queueUrl, 'Events the fan-out could not process');
    stackOutput(this, 'EventRuleDlqUrl', this.ruleDlq.queueUrl, 'Events EventBridge could not put on the fan-out queue (npm run replay-rule-dlq)');
  }
}
