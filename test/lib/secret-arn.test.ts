import { Stack } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { checkSecretArn } from '../../lib/secret-arn';

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
