import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SUBSCRIPTIONS_FUNCTION } from '../../lambdas/core/settings';
import { TIMEOUT_LIMITS, timeoutProblem } from '../../lib/timeout-budget';
import { WebhooksStack, WebhooksStackProps } from '../../lib/webhooks-stack';

const synth = (props: WebhooksStackProps = {}): Template =>
  Template.fromStack(new WebhooksStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test', props));

describe('timeouts that do not fit their function are refused at synth', () => {
  test('a delivery timeout the delivery function cannot wait out', () => {
    expect(() => synth({ deliveryTimeoutMs: 60_000 })).toThrow(
      /^deliveryTimeoutMs must be whole milliseconds from 1 to 50000 \(the delivery function stops after 60 s[^\n]*\); got 60000$/,
    );
  });

  test('an operator.select timeout beyond what API Gateway waits for', () => {
    expect(() => synth({ operatorSelectTimeoutMs: 26_000 })).toThrow(/^operatorSelectTimeoutMs must be whole milliseconds from 1 to 25000 .*got 26000$/);
  });

  test('zero, negative and fractional timeouts', () => {
    expect(() => synth({ deliveryTimeoutMs: 0 })).toThrow(/deliveryTimeoutMs must be whole milliseconds/);
    expect(() => synth({ operatorSelectTimeoutMs: -5 })).toThrow(/operatorSelectTimeoutMs must be whole milliseconds/);
    expect(() => synth({ deliveryTimeoutMs: 1.5 })).toThrow(/deliveryTimeoutMs/);
  });

  test('the largest timeouts that fit synthesize, each function outlasting its call', () => {
    const template = synth({
      deliveryTimeoutMs: TIMEOUT_LIMITS.deliveryTimeoutMs.maxMs,
      operatorSelectTimeoutMs: TIMEOUT_LIMITS.operatorSelectTimeoutMs.maxMs,
    });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Timeout: number; Environment: { Variables: Record<string, string> } };
    }[];
    const withVariable = (name: string) => functions.filter((fn) => fn.Properties.Environment.Variables[name] !== undefined);
    // operator.select's own route and Tiledesk ingest (which calls the hook too) take the setting.
    const hookCallers = withVariable('OPERATOR_SELECT_TIMEOUT_MS');
    expect(hookCallers).toHaveLength(2);
    for (const fn of hookCallers) {
      expect(fn.Properties.Environment.Variables.OPERATOR_SELECT_TIMEOUT_MS).toBe(String(TIMEOUT_LIMITS.operatorSelectTimeoutMs.maxMs));
      expect(fn.Properties.Timeout).toBe(30);
    }
    const subscriptions = withVariable('TEST_PING_TIMEOUT_MS');
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]!.Properties.Timeout).toBe(SUBSCRIPTIONS_FUNCTION.timeoutSeconds);
    expect(Number(subscriptions[0]!.Properties.Environment.Variables.TEST_PING_TIMEOUT_MS)).toBeLessThan(
      SUBSCRIPTIONS_FUNCTION.timeoutSeconds * 1000,
    );
  });

  test('the message names the setting as the caller spells it', () => {
    expect(timeoutProblem({ deliveryTimeoutMs: 99_999 }, { deliveryTimeoutMs: 'DELIVERY_TIMEOUT_MS' })).toMatch(
      /^DELIVERY_TIMEOUT_MS must be whole milliseconds from 1 to 50000/,
    );
    expect(timeoutProblem({ deliveryTimeoutMs: 10_000, operatorSelectTimeoutMs: 5000 })).toBeUndefined();
  });
});
