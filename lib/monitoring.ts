import { Duration, Token } from 'aws-cdk-lib';
import { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ATTEMPT_OUTCOMES } from '../lambdas/core/attempt';
import { MONITORING } from '../lambdas/core/settings';
import { regionOfArn } from '../lambdas/core/arn';
import { checkTopicArn, requireStackRegion } from './setting-checks';

/** A DLQ to watch and what the on-call engineer does when it holds messages. */
export interface WatchedDlq {
  readonly queue: IQueue;
  /** The way back for its messages, named in the alarm. @default a redrive with `npm run redrive-dlq` */
  readonly remedy?: string;
}

/** Props of {@link Monitoring}. */
export interface MonitoringProps {
  /** DLQs to watch, by a short name used in the alarm's id and description. */
  readonly deadLetterQueues: Record<string, IQueue | WatchedDlq>;
  /** Queues whose backlog and in-flight count are watched (the delivery lanes), by name. */
  readonly workQueues: Record<string, IQueue>;
  /** Functions whose errors and throttles are watched, by name. */
  readonly functions: Record<string, IFunction>;
  /** The HTTP API whose 5xx answers are watched. */
  readonly httpApi: IHttpApi;
  /** The table whose throttled requests are watched. */
  readonly table: ITable;
  /** An SNS topic to notify when an alarm fires. @default no action (alarms are visible in CloudWatch) */
  readonly alarmTopicArn?: string;
}

/** How the messages of a DLQ of an SQS queue go back: an SQS message move task. */
const REDRIVE =
  'redrive it to its queue with npm run redrive-dlq -- --dlq-url <its DlqUrl output> (the delivery DLQ also --to-url <DeliveryQueueUrl>; docs/api.md: When an endpoint misbehaves)';

/** Where Powertools publishes the functions' own metrics (EMF), and their dimension. */
const SERVICE_METRICS = { namespace: 'TiledeskWebhooks', dimensionsMap: { service: 'tiledesk-webhooks' } } as const;

/**
 * Alarms that need a human, all notifying `alarmTopicArn`, and one dashboard. A DLQ holding a
 * message means something was given up on; a lane's oldest message ageing or its in-flight count
 * nearing SQS's 120,000 means delivery is falling behind; function errors or throttles, API 5xx,
 * DynamoDB throttling and delivery messages SQS refused mean the service itself is failing.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    checkTopicArn('alarmTopicArn', props.alarmTopicArn);
    // CloudWatch alarm actions notify only a topic of the alarm's own region: another region's
    // topic fails the deploy ("Invalid region … specified").
    const topicRegion = props.alarmTopicArn && !Token.isUnresolved(props.alarmTopicArn) ? regionOfArn(props.alarmTopicArn) : undefined;
    if (topicRegion) {
      requireStackRegion(this, 'AlarmTopicRegion', topicRegion, `alarmTopicArn is in ${topicRegion}: alarms notify only a topic in their own region; deploy the stack there or give a topic in its region`);
    }
    const topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    const alarm = (alarmId: string, description: string, metric: IMetric, threshold: number) => {
      const created = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (topic) created.addAlarmAction(new SnsAction(topic));
      this.alarms.push(created);
    };
    const minute = { period: Duration.minutes(1), statistic: 'Maximum' };
    const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };

    for (const [name, watched] of Object.entries(props.deadLetterQueues)) {
      const { queue, remedy = REDRIVE } = 'queue' in watched ? watched : { queue: watched };
      alarm(`${name}DlqNotEmpty`, `${name} DLQ holds messages: fix the cause, then ${remedy}`, queue.metricApproximateNumberOfMessagesVisible(minute), 0);
    }
    for (const [name, queue] of Object.entries(props.workQueues)) {
      alarm(
        `${name}OldestMessage`,
        `${name} queue's oldest message is older than ${MONITORING.oldestMessageAlarmSeconds} s: deliveries are falling behind`,
        queue.metricApproximateAgeOfOldestMessage(minute),
        MONITORING.oldestMessageAlarmSeconds,
      );
      alarm(
        `${name}InFlight`,
        `${name} queue has over ${MONITORING.inFlightAlarm} messages in flight (SQS stops receiving at ~120,000)`,
        queue.metricApproximateNumberOfMessagesNotVisible(minute),
        MONITORING.inFlightAlarm,
      );
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, `${name} function failed invocations`, fn.metricErrors(fiveMinutes), 0);
      alarm(`${name}Throttles`, `${name} function was throttled`, fn.metricThrottles(fiveMinutes), 0);
    }
    alarm('Api5xx', 'The HTTP API answered 5xx', props.httpApi.metricServerError(fiveMinutes), 0);
    const throttled = new MathExpression({
      expression: 'reads + writes',
      usingMetrics: {
        reads: new Metric({ namespace: 'AWS/DynamoDB', metricName: 'ReadThrottleEvents', dimensionsMap: { TableName: props.table.tableName }, ...fiveMinutes }),
        writes: new Metric({ namespace: 'AWS/DynamoDB', metricName: 'WriteThrottleEvents', dimensionsMap: { TableName: props.table.tableName }, ...fiveMinutes }),
      },
      period: Duration.minutes(5),
    });
    alarm('TableThrottled', 'DynamoDB throttled requests of the webhooks table', throttled, 0);
    const serviceMetric = (metricName: string) => new Metric({ ...SERVICE_METRICS, metricName, ...fiveMinutes });
    alarm('DeliveryMessagesUnsent', 'SQS refused delivery messages (they are retried; see the logs for the reason)', serviceMetric('DeliveryMessagesUnsent'), 0);

    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new GraphWidget({ title: 'Attempts by outcome', left: ATTEMPT_OUTCOMES.map((outcome) => serviceMetric(`Attempt_${outcome}`)), width: 12 }),
          new GraphWidget({
            title: 'Circuit and lane changes, held and rate-limited deliveries',
            left: ['CircuitOpened', 'CircuitReopened', 'CircuitClosed', 'MovedToSlowLane', 'MovedToFastLane'].map(serviceMetric),
            right: ['DeliveriesHeldByCircuit', 'DeliveriesRateLimited', 'DeliveriesToSlowLane'].map(serviceMetric),
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Delivery queues: oldest message (s)',
            left: Object.values(props.workQueues).map((queue) => queue.metricApproximateAgeOfOldestMessage(minute)),
            width: 12,
          }),
          new GraphWidget({
            title: 'Delivery queues: in flight and delayed',
            left: Object.values(props.workQueues).map((queue) => queue.metricApproximateNumberOfMessagesNotVisible(minute)),
            right: Object.values(props.workQueues).map((queue) =>
              queue.metric('ApproximateNumberOfMessagesDelayed', minute),
            ),
            width: 12,
          }),
        ],
        [
          new GraphWidget({ title: 'Function errors', left: Object.values(props.functions).map((fn) => fn.metricErrors(fiveMinutes)), width: 8 }),
          new GraphWidget({
            title: 'Function duration (p99)',
            left: Object.values(props.functions).map((fn) => fn.metricDuration({ period: Duration.minutes(5), statistic: 'p99' })),
            width: 8,
          }),
          new GraphWidget({ title: 'API 5xx, table throttling', left: [props.httpApi.metricServerError(fiveMinutes)], right: [throttled], width: 8 }),
        ],
      ],
    });
  }
}
