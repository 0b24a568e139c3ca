import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Props of {@link Monitoring}. */
export interface MonitoringProps {
  /** DLQs to watch, by a short name used in the alarm's id and description. */
  readonly deadLetterQueues: Record<string, IQueue>;
  /** An SNS topic to notify when an alarm fires. @default no action (alarms are visible in CloudWatch) */
  readonly alarmTopicArn?: string;
}

/**
 * Alarms that need a human: any message in a DLQ means an event or a delivery was given up on
 * and waits for a redrive or a recovery.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      const alarm = new Alarm(this, `${name}DlqNotEmpty`, {
        alarmDescription: `${name} DLQ holds messages: redrive (npm run redrive-dlq) or investigate`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (topic) alarm.addAlarmAction(new SnsAction(topic));
      this.alarms.push(alarm);
    }
  }
}
