import { sharedEnvironment } from '../../local/runtime/function-runtime';
import { resolveValue } from '../../local/template/intrinsics';
import type { FunctionModel } from '../../local/template/stack-model';

const fn = (logicalId: string, environment: Record<string, unknown>, exportName = 'handler'): FunctionModel => ({
  logicalId,
  entry: 'lambdas/handlers/delivery.ts',
  exportName,
  environment,
  timeoutSeconds: 60,
  memorySize: 512,
});

const resolve = (value: unknown) =>
  resolveValue(value, {
    region: 'us-east-1',
    account: '000000000000',
    stackName: 'S',
    resources: new Map([['Queue1', { ref: 'http://127.0.0.1:1/000000000000/q', attributes: { Arn: 'arn:aws:sqs:us-east-1:000000000000:q' } }]]),
  });

test('the functions\' variables are resolved to the local values and merged, the local stack\'s own last', () => {
  const environment = sharedEnvironment(
    [fn('A', { QUEUE_URL: { Ref: 'Queue1' }, ARN: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Queue1', 'Arn'] }, '/x']] } }), fn('B', { QUEUE_URL: { Ref: 'Queue1' }, JWT_SECRET_ARN: 'arn:secret' })],
    resolve,
    { JWT_SECRET: 'local' },
  );
  expect(environment).toEqual({ QUEUE_URL: 'http://127.0.0.1:1/000000000000/q', ARN: 'arn:aws:sqs:us-east-1:000000000000:q/x', JWT_SECRET: 'local' });
});

test('a variable two functions set differently is refused, naming it, unless each is called through an export bound to its value', () => {
  const fast = fn('Fast', { DELIVERY_LANE: 'fast' });
  const slow = fn('Slow', { DELIVERY_LANE: 'slow' });
  expect(() => sharedEnvironment([fast, slow], resolve, {})).toThrow(/^DELIVERY_LANE differs between functions \(Fast, Slow\); Fast, Slow would run with another's value/);
  expect(() => sharedEnvironment([{ ...fast, exportName: 'fastLaneHandler' }, { ...slow, exportName: 'slowLaneHandler' }], resolve, {})).not.toThrow();
});

test('a reference the local stack cannot resolve stops it, naming the reference', () => {
  expect(() => sharedEnvironment([fn('A', { TOPIC: { Ref: 'Missing' } })], resolve, {})).toThrow('no local value for Ref Missing');
});
