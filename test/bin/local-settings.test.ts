// `npm start`'s settings reach the functions: those the template also sets (request limits,
// the ingest token's age, the test ping's timeout) go to the stack as props, or the template's
// default would replace them (they were read, checked, and then silently ignored).
import { localStackOptions, readLocalSettings } from '../../bin/local-settings';
import { LocalStack, startLocalStack } from '../../local/local-stack';
import { signToken } from '../../lambdas/core/token';

const env = {
  JWT_SECRET: 'local-settings-secret',
  PORT: '0',
  AWS_PORT: '0',
  PROJECT_API_LIMIT: '1,1',
  PROJECT_EVENTS_LIMIT: '3,6',
  INGEST_SOURCE_LIMIT: '4,8',
  INGEST_TOKEN_MAX_AGE_SECONDS: '30',
  TEST_PING_TIMEOUT_MS: '1500',
};

let stack: LocalStack;
const saved = { ...process.env };
beforeAll(async () => {
  stack = await startLocalStack({ ...localStackOptions(readLocalSettings(env)), functionThread: false });
});
afterAll(async () => {
  await stack.stop();
  process.env = saved;
});

test('every setting the template also sets reaches the functions with the value given', () => {
  expect(process.env).toMatchObject({
    PROJECT_API_LIMIT: '1,1',
    PROJECT_EVENTS_LIMIT: '3,6',
    INGEST_SOURCE_LIMIT: '4,8',
    INGEST_TOKEN_MAX_AGE_SECONDS: '30',
    TEST_PING_TIMEOUT_MS: '1500',
  });
});

test('PROJECT_API_LIMIT=1,1 answers a project’s second call at once with 429', async () => {
  const token = signToken({ sub: 'u', projects: { 'limited-p': 'owner' } }, env.JWT_SECRET);
  const get = () => fetch(`${stack.apiUrl}/limited-p/subscriptions`, { headers: { authorization: `Bearer ${token}` } });
  expect((await get()).status).toBe(200);
  const second = await get();
  expect(second.status).toBe(429);
  expect(second.headers.get('retry-after')).toBeTruthy();
});

test('unset limits keep the stack’s defaults; a malformed one is refused naming it', () => {
  const settings = readLocalSettings({ PORT: '0', AWS_PORT: '0' });
  expect(localStackOptions(settings)).toMatchObject({ projectApiLimit: undefined, ingestTokenMaxAgeSeconds: undefined, testPingTimeoutMs: undefined });
  expect(() => readLocalSettings({ PROJECT_EVENTS_LIMIT: 'fast' })).toThrow(/^PROJECT_EVENTS_LIMIT=fast is not valid/);
});

test('SQS_DUPLICATE_RATE reaches the stack; a share outside 0–1, or with DATA_DIR, is refused naming it', () => {
  expect(localStackOptions(readLocalSettings({ PORT: '0', AWS_PORT: '0', SQS_DUPLICATE_RATE: '0.05' }))).toMatchObject({ sqsDuplicateRate: 0.05 });
  expect(() => readLocalSettings({ SQS_DUPLICATE_RATE: '5%' })).toThrow(/^SQS_DUPLICATE_RATE=5% is not valid: use a share from 0 to 1/);
  expect(() => readLocalSettings({ SQS_DUPLICATE_RATE: '1.5' })).toThrow(/^SQS_DUPLICATE_RATE=1.5 is not valid/);
  expect(() => readLocalSettings({ SQS_DUPLICATE_RATE: '0.1', DATA_DIR: '/tmp/x' })).toThrow(/^SQS_DUPLICATE_RATE cannot be used with DATA_DIR/);
});
