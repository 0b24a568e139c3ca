import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WebhooksStack } from '../../lib/webhooks-stack';

function appWithChecks(tracing = false): { app: App; stack: WebhooksStack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new WebhooksStack(app, 'Test', { tracing });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

describe('cdk-nag AwsSolutions', () => {
  test.each([false, true])('the stack synthesizes with no unacknowledged finding (tracing %s)', (tracing) => {
    const { app } = appWithChecks(tracing);
    expect(() => app.synth()).not.toThrow();
  });

  test('every acknowledgement names its rule and carries a reason', () => {
    const spy = jest.spyOn(Validations.prototype, 'acknowledge');
    appWithChecks(true);
    const acks = spy.mock.calls.flatMap(([ack]) => (ack ? [ack] : []));
    spy.mockRestore();
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id).toMatch(/^AwsSolutions::AwsSolutions-/);
      expect(ack.reason.length).toBeGreaterThan(20);
    }
    const rules = new Set(acks.map((ack) => ack.id.replace(/\[.*$/, '')));
    expect([...rules].sort()).toEqual([
      'AwsSolutions::AwsSolutions-APIG4',
      'AwsSolutions::AwsSolutions-IAM4',
      'AwsSolutions::AwsSolutions-IAM5',
      'AwsSolutions::AwsSolutions-L1',
      'AwsSolutions::AwsSolutions-S1',
      'AwsSolutions::AwsSolutions-SMG4',
      'AwsSolutions::AwsSolutions-SQS3',
    ]);
  });

  test('the signing-secret rotation acknowledgement points to a section of docs/security.md that exists', () => {
    const spy = jest.spyOn(Validations.prototype, 'acknowledge');
    appWithChecks();
    const reasons = spy.mock.calls.flatMap(([ack]) => (ack?.id === 'AwsSolutions::AwsSolutions-SMG4' ? [ack.reason] : []));
    spy.mockRestore();
    const section = /docs\/security\.md: ([^)]+)\)/.exec(reasons[0] ?? '')?.[1];
    expect(section).toBeDefined();
    const headings = readFileSync(join(__dirname, '..', '..', 'docs', 'security.md'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .map((line) => line.replace(/^#+\s*/, ''));
    expect(headings).toContain(section);
  });

  test('a finding nobody acknowledged fails synthesis', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new WebhooksStack(app, 'Unchecked');
    const { Queue } = jest.requireActual<typeof import('aws-cdk-lib/aws-sqs')>('aws-cdk-lib/aws-sqs');
    new Queue(stack, 'Unencrypted', { enforceSSL: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS/);
  });
});
