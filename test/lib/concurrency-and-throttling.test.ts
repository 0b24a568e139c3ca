import { INGEST_THROTTLE, TILEDESK_INGEST_ROUTE } from '../../lambdas/core/settings';
import { CfnResource, StackTemplate } from './stack-template';

/** Lambda's default concurrency per account and region, and the part it keeps unreserved. */
const ACCOUNT_CONCURRENCY = 1000;
const MINIMUM_UNRESERVED = 100;

let stack: StackTemplate;
beforeAll(() => {
  stack = StackTemplate.synth({ ingestThrottle: { rateLimit: 700, burstLimit: 1400 } });
});

const functions = () => Object.entries(stack.resources('AWS::Lambda::Function'));
const reserved = (fn: CfnResource) => fn.Properties.ReservedConcurrentExecutions as number | undefined;

test('the reserved concurrency leaves the unreserved pool Lambda requires, in a default account', () => {
  const total = functions().reduce((sum, [, fn]) => sum + (reserved(fn) ?? 0), 0);
  // docs/design.md §3.12 gives this sum; a change here changes that arithmetic too.
  expect(total).toBe(80);
  expect(ACCOUNT_CONCURRENCY - total).toBeGreaterThanOrEqual(MINIMUM_UNRESERVED);
});

test('every SQS event source is capped, at most at what its function reserves, so it is never throttled by it', () => {
  const byId = new Map(functions());
  const mappings = Object.values(stack.resources('AWS::Lambda::EventSourceMapping'));
  expect(mappings).toHaveLength(3);
  for (const mapping of mappings) {
    const fn = byId.get((mapping.Properties.FunctionName as { Ref: string }).Ref)!;
    const cap = (mapping.Properties.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency;
    expect(cap).toBeLessThanOrEqual(reserved(fn)!);
  }
});

test('only the queue consumers reserve: the API functions keep the whole unreserved pool, which the capped fan-out cannot drain', () => {
  const reserving = functions().filter(([, fn]) => reserved(fn) !== undefined).map(([id]) => id);
  expect(reserving.sort()).toEqual([expect.stringMatching(/^DeliveryDeliverFunction/), expect.stringMatching(/^DeliveryDeliverSlowFunction/), expect.stringMatching(/^EventsFanOutFunction/)]);
});

test('the ingest route has its own throttle, from the props, and the stage waits for the route it names', () => {
  const [[stageId, stage]] = Object.entries(stack.resources('AWS::ApiGatewayV2::Stage')) as [[string, CfnResource & { DependsOn?: string[] }]];
  expect(stage.Properties.RouteSettings).toEqual({ [TILEDESK_INGEST_ROUTE]: { ThrottlingRateLimit: 700, ThrottlingBurstLimit: 1400 } });
  const ingestRouteId = stack.onlyLogicalId('AWS::ApiGatewayV2::Route', { RouteKey: TILEDESK_INGEST_ROUTE });
  expect((stack.template.toJSON().Resources[stageId] as { DependsOn?: string[] }).DependsOn).toContain(ingestRouteId);
});

test('by default the ingest route takes a Tiledesk installation\'s rate, above the stage default', () => {
  const defaults = StackTemplate.synth();
  const [stage] = Object.values(defaults.resources('AWS::ApiGatewayV2::Stage'));
  expect(stage!.Properties.RouteSettings).toEqual({
    [TILEDESK_INGEST_ROUTE]: { ThrottlingRateLimit: INGEST_THROTTLE.rateLimit, ThrottlingBurstLimit: INGEST_THROTTLE.burstLimit },
  });
  expect(stage!.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
});
