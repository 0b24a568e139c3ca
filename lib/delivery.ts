import { Duration } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { stackOutput } from './stack-output';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY, deliveryMaxReceiveCount, deliveryRetentionSeconds } from './settings';
import { WebhookFunction } from './webhook-function';

/** Props of {@link Delivery}. */
export interface DeliveryProps {
  readonly table: ITable;
  /** Retry delays in seconds after the first attempt. @default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h */
  readonly retrySchedule?: readonly number[];
  /** Per-attempt timeout. @default 10 s */
  readonly timeoutMs?: number;
  /** CIDRs and host names exempt from the private-address refusal. @default '' */
  readonly targetAllowlist?: string;
  /** Most delivery functions running at once. @default 20 */
  readonly maxConcurrency?: number;
  /** @default 30 */
  readonly attemptLogTtlDays?: number;
  /** Dead deliveries in a row that disable a subscription. @default 5 */
  readonly autoDisableAfterDead?: number;
}

/**
 * Webhooks out: the delivery queue (its redrive allows one receive per attempt of the
 * schedule, then the DLQ) and the delivery function that signs, POSTs, logs each attempt and
 * reschedules failures by changing the message's visibility.
 */
export class Delivery extends Construct {
  readonly queue: Queue;
  readonly dlq: Queue;
  readonly deliveryFunction: WebhookFunction;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    const schedule = props.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
    const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;
    this.dlq = new Queue(this, 'Dlq', { ...queueDefaults, retentionPeriod: Duration.days(14) });
    this.queue = new Queue(this, 'Queue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(DELIVERY.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(deliveryRetentionSeconds(schedule, DELIVERY.functionTimeoutSeconds)),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: deliveryMaxReceiveCount(schedule) },
    });

    this.deliveryFunction = new WebhookFunction(this, 'Deliver', {
      handlerFile: 'delivery',
      description: 'Signs and POSTs webhooks, logs attempts, schedules retries',
      timeout: Duration.seconds(DELIVERY.functionTimeoutSeconds),
      memorySize: 512,
      environment: {
        DELIVERY_QUEUE_URL: this.queue.queueUrl,
        RETRY_SCHEDULE: schedule.join(','),
        DELIVERY_TIMEOUT_MS: String(props.timeoutMs ?? DELIVERY.timeoutMs),
        TARGET_ALLOWLIST: props.targetAllowlist ?? '',
        ATTEMPT_LOG_TTL_DAYS: String(props.attemptLogTtlDays ?? DELIVERY.attemptLogTtlDays),
        AUTO_DISABLE_AFTER_DEAD: String(props.autoDisableAfterDead ?? DELIVERY.autoDisableAfterDead),
      },
    }).bindTable(props.table, {
      // BatchGetItem: the batch's subscriptions; BatchWriteItem: attempt logs; UpdateItem: the
      // dead-delivery streak and auto-disable; DeleteItem (and UpdateItem of the project's
      // counter): a subscription removed after a 410 Gone, with its uniqueness guard.
      table: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    });
    this.deliveryFunction.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: DELIVERY.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? DELIVERY.maxConcurrency,
      }),
    );

    stackOutput(this, 'DeliveryQueueUrl', this.queue.queueUrl);
    stackOutput(this, 'DeliveryDlqUrl', this.dlq.queueUrl, 'Deliveries whose retries are exhausted; redrive them with a message move task');
  }
}
