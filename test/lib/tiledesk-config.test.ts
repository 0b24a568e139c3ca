import { claimCheckExpiryDays } from '../../lambdas/core/settings';
import { StackTemplate, resourcesAllowing } from './stack-template';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tiledesk-global-AbCdEf';
const API_URL = 'https://api.tiledesk.example';
const DASHBOARD = 'https://console.tiledesk.example';

describe('Tiledesk sign-in settings', () => {
  it('are absent by default', () => {
    const environment = StackTemplate.synth().environmentOf('JWT_SECRET_ARN');
    expect(environment).not.toHaveProperty('TILEDESK_API_URL');
    expect(environment).not.toHaveProperty('TILEDESK_JWT_SECRET_ARN');
  });

  it('reach the authorizer, which alone may read Tiledesk\'s secret', () => {
    const stack = StackTemplate.synth({ tiledeskSignIn: { apiUrl: API_URL, jwtSecretArn: SECRET_ARN } });
    expect(stack.environmentOf('JWT_SECRET_ARN')).toMatchObject({ TILEDESK_API_URL: API_URL, TILEDESK_JWT_SECRET_ARN: SECRET_ARN });
    const authorizer = stack.functionWithEnv('TILEDESK_JWT_SECRET_ARN');
    expect(resourcesAllowing(stack.statementsOf(authorizer), 'secretsmanager:GetSecretValue')).toContain(JSON.stringify(SECRET_ARN));
  });

  it.each([
    [{ apiUrl: 'http://api.tiledesk.example', jwtSecretArn: SECRET_ARN }, /https:\/\//],
    [{ apiUrl: API_URL }, /tiledeskJwtSecretArn \(HS256\) or tiledeskJwtPublicKey/],
  ])('refuse a misconfiguration at synth: %j', (tiledeskSignIn, message) => {
    expect(() => StackTemplate.synth({ tiledeskSignIn })).toThrow(message);
  });
});

describe('CORS', () => {
  it('is off by default', () => {
    const [api] = Object.values(StackTemplate.synth().resources('AWS::ApiGatewayV2::Api'));
    expect(api?.Properties).not.toHaveProperty('CorsConfiguration');
  });

  it('lets API Gateway answer the preflights of the configured origins', () => {
    const [api] = Object.values(StackTemplate.synth({ corsOrigins: [DASHBOARD] }).resources('AWS::ApiGatewayV2::Api'));
    expect(api?.Properties.CorsConfiguration).toEqual({
      AllowOrigins: [DASHBOARD],
      AllowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
      AllowHeaders: ['authorization', 'content-type'],
      ExposeHeaders: ['x-hook-secret', 'x-operator-select-path', 'x-operator-select-reason', 'retry-after'],
      MaxAge: 600,
    });
  });
});

describe('Tiledesk ingest settings', () => {
  const HOOK_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tiledesk-hook-AbCdEf';

  it('reach the ingest function, which alone may read those secrets', () => {
    const stack = StackTemplate.synth({ tiledeskIngest: { globalSecretArn: SECRET_ARN, hookSecretArn: HOOK_SECRET_ARN } });
    expect(stack.environmentOf('EVENT_BUS_NAME')).toMatchObject({
      TILEDESK_GLOBAL_SECRET_ARN: SECRET_ARN,
      TILEDESK_INGEST_HOOK_SECRET_ARN: HOOK_SECRET_ARN,
    });
    const statements = stack.statementsOf(stack.functionWithEnv('EVENT_BUS_NAME'));
    expect(resourcesAllowing(statements, 'secretsmanager:GetSecretValue').sort()).toEqual(
      [JSON.stringify(SECRET_ARN), JSON.stringify(HOOK_SECRET_ARN)].sort(),
    );
  });

  it.each([
    [{ globalSecretArn: SECRET_ARN }],
    [{ globalPublicKey: '-----BEGIN PUBLIC KEY-----' }],
  ])('refuse ingest without the hook secret at synth, naming the setting: %j', (tiledeskIngest) => {
    expect(() => StackTemplate.synth({ tiledeskIngest })).toThrow(/^tiledeskHookSecretArn is required when Tiledesk ingest is enabled.*TILEDESK_INGEST_HOOK_SECRET/);
  });

  it.each([
    ['tiledeskGlobalSecretArn', { globalSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tiledesk_global', hookSecretArn: HOOK_SECRET_ARN }],
    ['tiledeskHookSecretArn', { globalSecretArn: SECRET_ARN, hookSecretArn: 'tiledesk-hook' }],
  ])('refuse a secret given by a partial ARN or a name at synth, naming %s (its policy would match no secret)', (setting, tiledeskIngest) => {
    expect(() => StackTemplate.synth({ tiledeskIngest })).toThrow(new RegExp(`^${setting} must be the secret's full ARN`));
  });

  it('refuse a Tiledesk sign-in secret given by a partial ARN at synth, naming it', () => {
    expect(() =>
      StackTemplate.synth({ tiledeskSignIn: { apiUrl: 'https://tiledesk.example/api', jwtSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:td' } }),
    ).toThrow(/^tiledeskJwtSecretArn must be the secret's full ARN, with the 6 characters Secrets Manager adds to its name/);
  });

  it('pass the source allowlist, the token window and the request limits to the ingest function', () => {
    const stack = StackTemplate.synth({
      tiledeskIngest: { globalSecretArn: SECRET_ARN, hookSecretArn: HOOK_SECRET_ARN, sourceAllowlist: '203.0.113.0/24', tokenMaxAgeSeconds: 120 },
      projectEventsLimit: { ratePerSecond: 5, burst: 9 },
    });
    expect(stack.environmentOf('EVENT_BUS_NAME')).toMatchObject({
      TILEDESK_INGEST_SOURCE_ALLOWLIST: '203.0.113.0/24',
      INGEST_TOKEN_MAX_AGE_SECONDS: '120',
      PROJECT_EVENTS_LIMIT: '5,9',
      INGEST_SOURCE_LIMIT: '50,100',
    });
    expect(() =>
      StackTemplate.synth({ tiledeskIngest: { globalSecretArn: SECRET_ARN, hookSecretArn: HOOK_SECRET_ARN, sourceAllowlist: 'tiledesk.example' } }),
    ).toThrow(/^tiledeskIngestSourceAllowlist=tiledesk\.example is not valid/);
  });

  it('keep claim checks in a private, encrypted bucket whose objects outlive what points at them', () => {
    const [bucket] = Object.values(StackTemplate.synth().resources('AWS::S3::Bucket'));
    expect(bucket?.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: claimCheckExpiryDays(), Status: 'Enabled' })] },
    });
  });
});
