import { loadSecretSetting, secretsClientFor } from '../../../lambdas/adapters/secret-setting';

describe('secretsClientFor', () => {
  it("asks the secret's own region, which GetSecretValue needs even for a full ARN", async () => {
    const client = secretsClientFor('arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:tiledesk/global-AbC123');
    await expect(client.config.region()).resolves.toBe('ap-southeast-2');
    // One client per region, reused.
    expect(secretsClientFor('arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:other-XyZ789')).toBe(client);
    await expect(secretsClientFor('arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123').config.region()).resolves.toBe('eu-west-1');
  });
});

describe('loadSecretSetting', () => {
  it('reads the variable itself when no ARN is set (the local stack), and nothing when neither is', async () => {
    await expect(loadSecretSetting('TEST_SETTING_A', { TEST_SETTING_A: ' value ' })).resolves.toBe('value');
    await expect(loadSecretSetting('TEST_SETTING_B', {})).resolves.toBeUndefined();
  });
});
