import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { WebhooksStack } from '../../lib/webhooks-stack';

const synth = (props: ConstructorParameters<typeof WebhooksStack>[2] = {}): Template =>
  Template.fromStack(new WebhooksStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test', props));

describe('DLQ alarms', () => {
  test('one alarm per DLQ fires on the first visible message', () => {
    const template = synth();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    }
    const queues = template.findResources('AWS::SQS::Queue');
    const dlqIds = Object.keys(queues).filter((id) => /Dlq/.test(id));
    const watched = alarms.map((alarm) => alarm.Properties.Dimensions[0].Value['Fn::GetAtt'][0]);
    expect(watched.sort()).toEqual(dlqIds.sort());
  });

  test('alarms notify the configured SNS topic', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    synth({ alarmTopicArn: topicArn }).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: Match.arrayWith([topicArn]),
    });
  });
});

describe('API throttling', () => {
  test('defaults to burst 100, rate 50, and follows the props', () => {
    synth().hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
    });
    synth({ apiThrottle: { burstLimit: 20, rateLimit: 5 } }).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingBurstLimit: 20, ThrottlingRateLimit: 5 },
    });
  });
});
