import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { MONITORING } from '../../lambdas/core/settings';
import { WebhooksStack } from '../../lib/webhooks-stack';

const synth = (props: ConstructorParameters<typeof WebhooksStack>[2] = {}): Template =>
  Template.fromStack(new WebhooksStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test', props));

type Alarm = { Properties: Record<string, unknown> & { Dimensions?: { Name: string; Value: unknown }[] } };
const alarmsOf = (template: Template): Alarm[] => Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Alarm[];
const refOf = (value: unknown): string | undefined =>
  (value as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0] ?? (value as { Ref?: string }).Ref;

describe('alarms', () => {
  const template = synth();
  const alarms = alarmsOf(template);

  test('one per DLQ fires on the first visible message', () => {
    const dlqIds = Object.keys(template.findResources('AWS::SQS::Queue')).filter((id) => /Dlq/.test(id));
    const watched = alarms
      .filter((alarm) => alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')
      .map((alarm) => refOf(alarm.Properties.Dimensions![0]!.Value));
    expect(watched.sort()).toEqual(dlqIds.sort());
    for (const alarm of alarms.filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')) {
      expect(alarm.Properties).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' });
    }
  });

  test.each([
    ['ApproximateAgeOfOldestMessage', MONITORING.oldestMessageAlarmSeconds],
    ['ApproximateNumberOfMessagesNotVisible', MONITORING.inFlightAlarm],
  ])('watch %s of both delivery lanes and the fan-out queue', (metric, threshold) => {
    const queues = Object.keys(template.findResources('AWS::SQS::Queue')).filter((id) => /Queue/.test(id) && !/Dlq/.test(id));
    const watched = alarms.filter((alarm) => alarm.Properties.MetricName === metric);
    expect(watched.map((alarm) => refOf(alarm.Properties.Dimensions![0]!.Value)).sort()).toEqual(queues.sort());
    for (const alarm of watched) expect(alarm.Properties.Threshold).toBe(threshold);
  });

  test.each(['Errors', 'Throttles'])('watch %s of every function', (metric) => {
    const functions = Object.keys(template.findResources('AWS::Lambda::Function'));
    const watched = alarms.filter((alarm) => alarm.Properties.MetricName === metric && alarm.Properties.Namespace === 'AWS/Lambda');
    expect(watched.map((alarm) => refOf(alarm.Properties.Dimensions![0]!.Value)).sort()).toEqual(functions.sort());
  });

  test('watch API 5xx, DynamoDB throttling and delivery messages SQS refused', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5xx', Namespace: 'AWS/ApiGateway' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'reads + writes' })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DeliveryMessagesUnsent', Namespace: 'TiledeskWebhooks' });
  });

  test('every alarm notifies the configured SNS topic', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    const withTopic = alarmsOf(synth({ alarmTopicArn: topicArn }));
    expect(withTopic.length).toBeGreaterThan(10);
    for (const alarm of withTopic) expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
  });

  test('one dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
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

describe('DLQ alarm texts', () => {
  const descriptions = (): Record<string, string> =>
    Object.fromEntries(
      Object.entries(synth().findResources('AWS::CloudWatch::Alarm')).map(([id, alarm]) => [id, String(alarm.Properties.AlarmDescription)]),
    );

  test('the event rule DLQ alarm names the replay command, never a message move task redrive', () => {
    const alarms = Object.entries(descriptions()).filter(([id]) => id.includes('DlqNotEmpty'));
    expect(alarms).toHaveLength(3);
    const ruleAlarms = alarms.filter(([id]) => id.includes('EventRule'));
    expect(ruleAlarms).toHaveLength(1);
    expect(ruleAlarms[0]![1]).toContain('npm run replay-rule-dlq -- --dlq-url <EventRuleDlqUrl output>');
    expect(ruleAlarms[0]![1]).not.toMatch(/npm run redrive-dlq/);
    for (const [id, text] of alarms) {
      if (!id.includes('EventRule')) expect(text).toContain('npm run redrive-dlq -- --dlq-url');
    }
  });
});
