import { MAX_BODY_BYTES } from '../../lambdas/handlers/http-response';
import { TestStack, startTestStack } from '../support/local-stack-harness';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

test('a body over the cap gets 413 with the contract error body, and nothing is created', async () => {
  const token = t.tokenFor({ 'proj-big': 'owner' });
  const padding = 'x'.repeat(MAX_BODY_BYTES);
  const reply = await t.api('POST', '/proj-big/subscriptions', {
    token,
    rawBody: JSON.stringify({ event: 'request.create', target: 'http://127.0.0.1:9/hook', padding }),
  });
  expect(reply.status).toBe(413);
  expect(reply.body).toMatchObject({ success: false, msg: expect.stringContaining(String(MAX_BODY_BYTES)) });
  const list = await t.api('GET', '/proj-big/subscriptions', { token });
  expect(list.body).toEqual([]);
});

test('operator-select answers 413 too, never a 5xx', async () => {
  const reply = await t.api('POST', '/proj-big/operator-select', {
    token: t.platformToken(),
    rawBody: JSON.stringify({ operators: [{ id_user: 'u1' }], context: 'y'.repeat(MAX_BODY_BYTES) }),
  });
  expect(reply.status).toBe(413);
});
