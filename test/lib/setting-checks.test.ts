import { Stack } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { generateKeyPairSync } from 'node:crypto';
import { checkPublicKey, checkSecretArn, checkTopicArn, parseExistingBus } from '../../lib/setting-checks';
import { StackTemplate } from './stack-template';

const HOOK_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tiledesk/hook-AbC123';

describe('checkSecretArn', () => {
  it('takes a full ARN, and a token that resolves to one at deploy (another construct\'s secret)', () => {
    expect(() => checkSecretArn('s', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tiledesk/global-AbC123')).not.toThrow();
    const secret = new Secret(new Stack(), 'S');
    expect(() => checkSecretArn('s', secret.secretArn)).not.toThrow();
    expect(() => checkSecretArn('s', undefined)).not.toThrow();
  });

  it.each(['arn:aws:secretsmanager:eu-west-1:123456789012:secret:tiledesk_global', 'tiledesk-global-secret-name', ''])('refuses %j, naming the setting', (arn) => {
    expect(() => checkSecretArn('tiledeskHookSecretArn', arn)).toThrow(/^tiledeskHookSecretArn must be the secret's full ARN/);
  });
});

describe('checkPublicKey', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('takes a PEM RSA key, with real newlines or \\n escapes on one line', () => {
    expect(() => checkPublicKey('k', pem)).not.toThrow();
    expect(() => checkPublicKey('k', pem.replace(/\n/g, '\\n'))).not.toThrow();
    expect(() => checkPublicKey('k', undefined)).not.toThrow();
  });

  it("refuses the first line alone (what the CDK CLI keeps of a multi-line -c value), naming the setting and the fix", () => {
    expect(() => checkPublicKey('tiledeskGlobalPublicKey', pem.split('\n')[0])).toThrow(
      /^tiledeskGlobalPublicKey is not a usable public key \(not a PEM public key\): give the PEM on one line with \\n escapes/,
    );
  });

  it('refuses a key too small to trust, saying why', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => checkPublicKey('tiledeskJwtPublicKey', small)).toThrow(/^tiledeskJwtPublicKey is not a usable public key \(it must be an RSA public key of at least 2048 bits\)/);
  });

  it('is applied at synth to both Tiledesk keys, before the functions would fail at cold start', () => {
    expect(() => StackTemplate.synth({ tiledeskIngest: { globalPublicKey: '-----BEGIN PUBLIC KEY-----', hookSecretArn: HOOK_SECRET_ARN } })).toThrow(
      /^tiledeskGlobalPublicKey is not a usable public key/,
    );
    expect(() => StackTemplate.synth({ tiledeskSignIn: { apiUrl: 'https://tiledesk.example', jwtPublicKey: 'notapem' } })).toThrow(
      /^tiledeskJwtPublicKey is not a usable public key/,
    );
  });
});

describe('checkTopicArn', () => {
  it('takes a topic ARN and refuses anything else, naming the setting (at synth too)', () => {
    expect(() => checkTopicArn('alarmTopicArn', 'arn:aws:sns:eu-west-1:123456789012:alarms')).not.toThrow();
    expect(() => checkTopicArn('alarmTopicArn', 'not-an-arn')).toThrow(/^alarmTopicArn must be an SNS topic's ARN .*; got not-an-arn$/);
    expect(() => StackTemplate.synth({ alarmTopicArn: 'arn:aws:sqs:eu-west-1:123456789012:q' })).toThrow(/^alarmTopicArn must be an SNS topic's ARN/);
  });

  it("alarmTopicArn must be in the stack's region (alarms notify only their own region's topics): refused at synth, or checked by CloudFormation", () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:alarms';
    const env = (region: string) => ({ region, account: '123456789012' });
    expect(() => StackTemplate.synth({ alarmTopicArn: topic, env: env('us-east-1') })).toThrow(/^alarmTopicArn is in eu-west-1: .*, not us-east-1$/);
    expect(() => StackTemplate.synth({ alarmTopicArn: topic, env: env('eu-west-1') })).not.toThrow();
    const rules = (StackTemplate.synth({ alarmTopicArn: topic }).template.toJSON() as { Rules: Record<string, { Assertions: { Assert: unknown }[] }> }).Rules;
    expect(Object.values(rules).map((rule) => rule.Assertions[0]!.Assert)).toContainEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] });
  });
});

describe('parseExistingBus', () => {
  it('reads a name, or an ARN with its region and account', () => {
    expect(parseExistingBus('shared-bus')).toEqual({ name: 'shared-bus' });
    // A partner event bus (SaaS integrations) has `/` in its name.
    expect(parseExistingBus('aws.partner/example.com/123/tiledesk')).toEqual({ name: 'aws.partner/example.com/123/tiledesk' });
    expect(parseExistingBus('arn:aws:events:eu-west-1:999999999999:event-bus/shared')).toEqual({
      name: 'shared',
      arn: { region: 'eu-west-1', account: '999999999999' },
    });
  });
});
