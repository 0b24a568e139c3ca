import { UsageError, oneLine, queueClientConfig } from '../../bin/cli';

describe('queueClientConfig: what a tool needs for a queue URL', () => {
  test('an AWS queue URL gives its region and nothing else', () => {
    expect(queueClientConfig('https://sqs.eu-west-1.amazonaws.com/123456789012/TiledeskWebhooks-Dlq', {})).toEqual({ region: 'eu-west-1' });
  });

  test('a local stack URL needs no AWS variable: its origin, the local region and keys', () => {
    expect(queueClientConfig('http://127.0.0.1:4566/000000000000/tiledesk-webhooks-delivery-dlq', {})).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    expect(queueClientConfig('http://localhost:4566/000000000000/q', {}).endpoint).toBe('http://localhost:4566');
  });

  test('what is exported is kept', () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_REGION: 'eu-south-1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' };
    expect(queueClientConfig('http://127.0.0.1:4566/000000000000/q', env)).toEqual({ region: 'eu-south-1' });
    expect(queueClientConfig('http://127.0.0.1:4566/000000000000/q', { AWS_DEFAULT_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
  });

  test('any other URL is left to the SDK and its variables', () => {
    expect(queueClientConfig('https://vpce-1.sqs.us-east-1.vpce.amazonaws.com/123456789012/q', {})).toEqual({});
  });

  test('something that is no URL is one usage line', () => {
    expect(() => queueClientConfig('tiledesk-webhooks-delivery-dlq', {})).toThrow(UsageError);
    expect(() => queueClientConfig('tiledesk-webhooks-delivery-dlq', {})).toThrow(/is not a queue URL: use the stack output/);
  });
});

describe('oneLine: a missing AWS setting is named, not reported in the SDK’s words', () => {
  test('a missing region names AWS_REGION', () => {
    expect(oneLine(new Error('Region is missing'))).toBe('no AWS region: export AWS_REGION (e.g. us-east-1), or use the queue URL the stack output gives');
  });

  test('missing credentials name the variables, and the local ones', () => {
    const line = oneLine(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    expect(line).toMatch(/^no AWS credentials: export AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(against the local stack: AWS_ACCESS_KEY_ID=local/);
  });

  test('any other failure keeps its first line', () => {
    expect(oneLine(new Error('AccessDenied: not allowed\nmore'))).toBe('error: AccessDenied: not allowed');
    expect(oneLine(new UsageError('--dlq-url is required'))).toBe('--dlq-url is required');
  });
});
