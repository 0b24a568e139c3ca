import { Duration } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { stackOutput } from './stack-output';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, DELIVERY, DELIVERY_RETENTION_SECONDS, DLQ_RETENTION_DAYS, DeliveryLane, FAN_OUT, checkRetrySchedule } from '../lambdas/core/settings';
import { WebhookFunction } from './webhook-function';

/** Props of {@link Delivery}. */
export interface DeliveryProps {
  readonly table: ITable;
  /** Retry delays in seconds after the first attempt. @default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h */
  readonly retrySchedule?: readonly number[];
  /** Per-attempt timeout (the slow lane's; the fast lane gives up sooner). @default 10 s */
  readonly timeoutMs?: number;
  /** CIDRs and host names exempt from the private-address refusal. @default '' */
  readonly targetAllowlist?: string;
  /** Most fast-lane delivery functions running at once. @default 20 */
  readonly maxConcurrency?: number;
  /** Most slow-lane delivery functions running at once. @default 50 */
  readonly slowLaneMaxConcurrency?: number;
  /** Days attempt logs are kept. @default 7 (`DELIVERY.attemptLogTtlDays`) */
  readonly attemptLogTtlDays?: number;
  /** Dead deliveries in a row that disable a subscription. @default 5 */
  readonly autoDisableAfterDead?: number;
  /** An open circuit's first cool-down in seconds. @default DELIVERY.circuitCooldownSeconds (30) */
  readonly circuitCooldownSeconds?: number;
}

/**
 * Webhooks out, in two lanes: a fast lane for subscribers that answer quickly and a slow lane,
 * with its own concurrency, for those that do not, so a slow or hanging endpoint holds only
 * slow-lane capacity. Each lane is a fair queue (the project is the tenant) and a function
 * that signs, POSTs and logs; retries and every other wait are messages re-sent with a delay,
 * never messages held in flight. The DLQ receives exhausted deliveries from the functions and
 * poison messages from SQS's redrive.
 */
export class Delivery extends Construct {
  /** The fast lane's queue: where the fan-out, recover and replay send. */
  readonly queue: Queue;
  readonly slowQueue: Queue;
  readonly dlq: Queue;
  readonly deliveryFunction: WebhookFunction;
  readonly slowDeliveryFunction: WebhookFunction;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    const schedule = props.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
    checkRetrySchedule(schedule);
    // Delivery messages carry whole payloads (an inline event's up to 256 KB, plus the message's
    // own fields), so these queues take SQS's largest message, as the fan-out queue does: left
    // unset, the SQS API reference gives 256 KiB, and the largest inline events were refused.
    const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, maxMessageSizeBytes: FAN_OUT.maxMessageSizeBytes } as const;
    this.dlq = new Queue(this, 'Dlq', { ...queueDefaults, retentionPeriod: Duration.days(DLQ_RETENTION_DAYS) });
    const laneQueue = (name: string) =>
      new Queue(this, name, {
        ...queueDefaults,
        visibilityTimeout: Duration.seconds(DELIVERY.visibilityTimeoutSeconds),
        retentionPeriod: Duration.seconds(DELIVERY_RETENTION_SECONDS),
        deadLetterQueue: { queue: this.dlq, maxReceiveCount: DELIVERY.poisonReceiveCount },
      });
    this.queue = laneQueue('Queue');
    this.slowQueue = laneQueue('SlowQueue');

    const lane = (laneName: DeliveryLane, functionId: string, queue: Queue, maxConcurrency: number): WebhookFunction => {
      const fn = new WebhookFunction(this, functionId, {
        handlerFile: 'delivery',
        localExport: `${laneName}LaneHandler`,
        // Reserved at the lane's maximum concurrency: its event source then is never throttled,
        // and no burst elsewhere can take these executions (docs/design.md §3.12).
        reservedConcurrency: maxConcurrency,
        description: `Signs and POSTs webhooks of the ${laneName} lane, logs attempts, schedules retries`,
        timeout: Duration.seconds(DELIVERY.functionTimeoutSeconds),
        memorySize: 512,
        environment: {
          DELIVERY_LANE: laneName,
          DELIVERY_QUEUE_URL: this.queue.queueUrl,
          SLOW_DELIVERY_QUEUE_URL: this.slowQueue.queueUrl,
          DELIVERY_DLQ_URL: this.dlq.queueUrl,
          RETRY_SCHEDULE: schedule.join(','),
          DELIVERY_TIMEOUT_MS: String(props.timeoutMs ?? DELIVERY.timeoutMs),
          FAST_LANE_TIMEOUT_MS: String(DELIVERY.fastLaneTimeoutMs),
          FAST_LANE_ANSWER_MS: String(DELIVERY.fastLaneAnswerMs),
          TARGET_ALLOWLIST: props.targetAllowlist ?? '',
          ATTEMPT_LOG_TTL_DAYS: String(props.attemptLogTtlDays ?? DELIVERY.attemptLogTtlDays),
          AUTO_DISABLE_AFTER_DEAD: String(props.autoDisableAfterDead ?? DELIVERY.autoDisableAfterDead),
          CIRCUIT_COOLDOWN_SECONDS: String(props.circuitCooldownSeconds ?? DELIVERY.circuitCooldownSeconds),
        },
      }).bindTable(props.table, {
        // GetItem and BatchGetItem: the batch's subscriptions and their health; BatchWriteItem and
        // PutItem: attempt logs (an item alone when a batch is refused); UpdateItem: health, the
        // rate clock, the dead-delivery streak and auto-disable; DeleteItem (and UpdateItem of the
        // project's counter): a subscription removed after a 410 Gone, with its uniqueness guard;
        // BatchWriteItem and Query: deliveries an open circuit parks, and their release.
        table: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:BatchWriteItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
        ],
      });
      // Retries and waits are re-sent to either lane; exhausted deliveries go to the DLQ.
      fn.grantSendTo(this.queue).grantSendTo(this.slowQueue).grantSendTo(this.dlq);
      fn.function.addEventSource(
        new SqsEventSource(queue, { batchSize: DELIVERY.batchSize, reportBatchItemFailures: true, maxConcurrency }),
      );
      return fn;
    };
    this.deliveryFunction = lane('fast', 'Deliver', this.queue, props.maxConcurrency ?? DELIVERY.maxConcurrency);
    this.slowDeliveryFunction = lane('slow', 'DeliverSlow', this.slowQueue, props.slowLaneMaxConcurrency ?? DELIVERY.slowLaneMaxConcurrency);

    stackOutput(this, 'DeliveryQueueUrl', this.queue.queueUrl);
    stackOutput(this, 'SlowDeliveryQueueUrl', this.slowQueue.queueUrl);
    stackOutput(this, 'DeliveryDlqUrl', this.dlq.queueUrl, 'Deliveries whose retries are exhausted; redrive them with a message move task');
  }
}
