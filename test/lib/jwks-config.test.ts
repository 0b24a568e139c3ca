import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnResource, StackTemplate } from './stack-template';

const JWKS_URL = 'https://idp.example.com/.well-known/jwks.json';
const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'tiledesk-webhooks';

/** The authorizer is the one function that reads the signing secret. */
const authorizerEnvironment = (stack: StackTemplate) => stack.environmentOf('JWT_SECRET_ARN');

/**
 * Runs `bin/app.ts` as `cdk synth -c key=value` would: the CLI hands context to the app in
 * CDK_CONTEXT_JSON. Bundling is skipped; the template is all these tests read.
 */
function synthApp(context: Record<string, unknown>): Template {
  const saved = process.env.CDK_CONTEXT_JSON;
  process.env.CDK_CONTEXT_JSON = JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context });
  try {
    let app: App | undefined;
    jest.isolateModules(() => {
      ({ app } = jest.requireActual<typeof import('../../bin/app')>('../../bin/app'));
    });
    const stack = app?.node.children.find((child): child is Stack => Stack.isStack(child));
    if (!stack) throw new Error('bin/app.ts defined no stack');
    return Template.fromStack(stack);
  } finally {
    if (saved === undefined) delete process.env.CDK_CONTEXT_JSON;
    else process.env.CDK_CONTEXT_JSON = saved;
  }
}

describe('identity provider (RS256 via JWKS) settings', () => {
  it('are absent by default: HS256 only', () => {
    const environment = authorizerEnvironment(StackTemplate.synth());
    expect(environment).not.toHaveProperty('JWKS_URL');
    expect(environment).not.toHaveProperty('JWT_ISSUER');
    expect(environment).not.toHaveProperty('JWT_AUDIENCE');
  });

  it('reach the authorizer environment from the stack props, and only the authorizer', () => {
    const stack = StackTemplate.synth({ jwksUrl: JWKS_URL, jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
    expect(authorizerEnvironment(stack)).toMatchObject({ JWKS_URL, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    expect(stack.functionIdWithEnv('JWKS_URL')).toBe(stack.functionIdWithEnv('JWT_SECRET_ARN'));
  });

  it('leave issuer and audience unchecked when not given', () => {
    const environment = authorizerEnvironment(StackTemplate.synth({ jwksUrl: JWKS_URL }));
    expect(environment).toMatchObject({ JWKS_URL });
    expect(environment).not.toHaveProperty('JWT_ISSUER');
    expect(environment).not.toHaveProperty('JWT_AUDIENCE');
  });

  it('reach the authorizer environment from the CDK context keys of bin/app.ts', () => {
    const template = synthApp({ jwksUrl: JWKS_URL, jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
    const environments = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn as CfnResource).Properties.Environment as { Variables: Record<string, unknown> },
    );
    const authorizers = environments.filter(({ Variables }) => 'JWT_SECRET_ARN' in Variables);
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]?.Variables).toMatchObject({ JWKS_URL, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    expect(environments.filter(({ Variables }) => 'JWKS_URL' in Variables)).toHaveLength(1);
  });

  it.each([
    'http://idp.example.com/.well-known/jwks.json',
    'http://127.0.0.1:8080/jwks',
    'ftp://idp.example.com/jwks',
    'idp.example.com/jwks',
  ])('refuse a jwksUrl that is not https, at synth: %s', (jwksUrl) => {
    expect(() => StackTemplate.synth({ jwksUrl })).toThrow(/jwksUrl must be an https:\/\/ URL/);
    expect(() => synthApp({ jwksUrl })).toThrow(/jwksUrl must be an https:\/\/ URL/);
  });

  it.each(['tiledeskJwtSecretArn', 'tiledeskJwtPublicKey'])("refuse %s without tiledeskApiUrl, which sign-in needs, instead of ignoring it", (key) => {
    expect(() => synthApp({ [key]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123' })).toThrow(
      new RegExp(`^tiledeskApiUrl is required when ${key} is set`),
    );
  });

  it('refuse tiledeskApiUrl without a key, or not https, naming the context keys', () => {
    expect(() => synthApp({ tiledeskApiUrl: 'https://tiledesk.example/api/' })).toThrow(
      /^tiledeskApiUrl needs tiledeskJwtSecretArn \(HS256\) or tiledeskJwtPublicKey \(RS256\) to verify Tiledesk tokens/,
    );
    expect(() =>
      synthApp({ tiledeskApiUrl: 'http://tiledesk.example/api/', tiledeskJwtSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123' }),
    ).toThrow(/^tiledeskApiUrl \(tiledeskSignIn.apiUrl\) must be an https:\/\/ URL; got http:\/\/tiledesk.example\/api\/$/);
  });

  it('pass an issuer and audience without a key set too: HS256 tokens are held to them', () => {
    const stack = StackTemplate.synth({ jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
    expect(authorizerEnvironment(stack)).toMatchObject({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    expect(authorizerEnvironment(stack)).not.toHaveProperty('JWKS_URL');
  });
});
