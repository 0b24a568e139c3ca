import { IGNORED_TYPES, MODELLED_TYPES, uncoveredParts } from '../../local/template/coverage';
import { readStackModel } from '../../local/template/stack-model';
import type { CfnTemplate } from '../../local/template/synth';
import { cachedTemplate } from '../../local/template/template-cache';

/** The template of a deployment with every optional feature on, so their resources and properties are covered too. */
const EVERYTHING_ON = {
  tracing: true,
  alarmTopicArn: 'arn:aws:sns:us-east-1:000000000000:alarms',
  corsOrigins: ['https://panel.example'],
  jwksUrl: 'https://idp.example/.well-known/jwks.json',
  tiledeskSignIn: { apiUrl: 'https://tiledesk.example/api', jwtSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:td-AbCdEf' },
  tiledeskIngest: { globalSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:g-AbCdEf', hookSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:h-AbCdEf' },
  ingestThrottle: { rateLimit: 7, burstLimit: 9 },
};

let defaults: CfnTemplate;
let everythingOn: CfnTemplate;
beforeAll(async () => {
  defaults = await cachedTemplate({}, 'TiledeskWebhooks');
  everythingOn = await cachedTemplate(EVERYTHING_ON, 'TiledeskWebhooks');
}, 120_000);

test.each([
  ['the default deployment', () => defaults],
  ['a deployment with every option on', () => everythingOn],
])('the local stack models or deliberately leaves aside every resource type and property of %s', (_name, template) => {
  expect(uncoveredParts(template())).toEqual([]);
  // And it can build what it models: every function names its handler, every route its function.
  const model = readStackModel(template());
  expect(model.functions.length).toBeGreaterThan(0);
  expect(model.apis[0]?.routes.length).toBeGreaterThan(0);
});

test('a resource type or property the local stack does not know fails the coverage', () => {
  const changed: CfnTemplate = structuredClone(defaults);
  const queueId = Object.keys(changed.Resources).find((id) => changed.Resources[id]!.Type === 'AWS::SQS::Queue')!;
  changed.Resources[queueId]!.Properties!.FifoQueue = true;
  changed.Resources.NewTopic = { Type: 'AWS::SNS::Topic', Properties: {} };
  expect(uncoveredParts(changed)).toEqual(['AWS::SNS::Topic', 'AWS::SQS::Queue.FifoQueue']);
});

test('every resource type and property left aside says why', () => {
  const reasons = [...Object.values(IGNORED_TYPES), ...Object.values(MODELLED_TYPES).flatMap((type) => Object.values(type.ignores ?? {}))];
  for (const reason of reasons) expect(reason.length).toBeGreaterThan(10);
});

test('the model reads the settings the template deploys', () => {
  const model = readStackModel(everythingOn);
  const ingest = model.apis[0]!.routes.find((route) => route.routeKey === 'POST /tiledesk/ingest')!;
  expect(ingest).toMatchObject({ throttle: { rateLimit: 7, burstLimit: 9 }, authorizerFunctionId: undefined, integrationTimeoutMs: 30_000 });
  const subscriptions = model.apis[0]!.routes.find((route) => route.routeKey === 'GET /{projectId}/subscriptions')!;
  expect(subscriptions).toMatchObject({ throttle: { rateLimit: 50, burstLimit: 100 }, authorizerFunctionId: expect.any(String) });
  expect(model.eventSources.every((mapping) => mapping.reportBatchItemFailures && mapping.maximumConcurrency !== undefined)).toBe(true);
  const [rule] = model.rules;
  expect(rule?.targets[0]).toMatchObject({ retry: { maximumRetryAttempts: 185, maximumEventAgeSeconds: 86_400 }, deadLetterQueueId: expect.any(String) });
  expect(model.apis[0]!.cors).toMatchObject({ AllowOrigins: ['https://panel.example'] });
});

test.each([
  ['an identity source', { IdentitySource: ['$request.header.Authorization'] }],
  ['a result cache', { AuthorizerResultTtlInSeconds: 300 }],
  ['no TTL (API Gateway then caches 300 s)', { AuthorizerResultTtlInSeconds: undefined }],
])('an authorizer with %s is refused: API Gateway would answer 401 or cached answers itself', (_name, change) => {
  const changed: CfnTemplate = structuredClone(defaults);
  const authorizerId = Object.keys(changed.Resources).find((id) => changed.Resources[id]!.Type === 'AWS::ApiGatewayV2::Authorizer')!;
  const properties = changed.Resources[authorizerId]!.Properties!;
  // The deployed template's own: no identity source, no cache.
  expect(properties).toMatchObject({ IdentitySource: [], AuthorizerResultTtlInSeconds: 0 });
  Object.assign(properties, change);
  for (const [key, value] of Object.entries(change)) if (value === undefined) delete properties[key];
  expect(() => readStackModel(changed)).toThrow('the local API server runs authorizers without identity sources and without result caching');
});
