// A large operator.select exchange (a request near the body limit and an answer near the read
// limit: ~600 KB of JSON together, beyond DynamoDB's 400 KB item) keeps the hook's answer; the
// call is still logged, without what does not fit.
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { logsOf, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let t: TestStack;
let hook: Receiver;
const PROJECT = 'p-large-select';
/** Random, so neither side compresses into a small log item. */
const noise = (bytes: number): string => Buffer.from(Array.from({ length: bytes }, () => Math.floor(Math.random() * 256))).toString('base64').slice(0, bytes);

beforeAll(async () => {
  t = await startTestStack();
  hook = await startReceiver(() => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ operators: [{ id_user: 'u2' }], note: noise(250_000) }),
  }));
});

afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

it('answers with the hook’s choice and logs the call', async () => {
  const { _id } = await subscribe(t, PROJECT, 'operator.select', hook.url);
  const request = {
    id_project: PROJECT,
    operators: [{ id_user: 'u1' }],
    agents: [{ id_user: 'u1' }, { id_user: 'u2' }],
    department: { _id: 'd1' },
    context: { history: noise(240_000) },
  };
  const reply = await t.api('POST', `/${PROJECT}/operator-select`, { token: t.platformToken(), body: request });
  expect(reply.status).toBe(200);
  expect(reply.headers.get('x-operator-select-path')).toBe('hook');
  expect(reply.body.operators).toEqual([{ id_user: 'u2' }]);
  const [logged] = await logsOf(t, PROJECT, _id);
  expect(logged).toMatchObject({ outcome: 'delivered', statusCode: 200 });
});
