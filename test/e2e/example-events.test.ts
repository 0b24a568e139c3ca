import { Webhook } from 'standardwebhooks';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, logsOf, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

/**
 * "Send an example event" (Svix's and Convoy's send-example): the catalog's example payload
 * published for the project as a real event, delivered through the bus, the fan-out and the
 * delivery queue like any other — signed, logged with its message id.
 */
let t: TestStack;
let receiver: Receiver;
const PROJECT = 'examples';

beforeAll(async () => {
  t = await startTestStack();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await t.stop();
});

const owner = (): string => t.tokenFor({ [PROJECT]: 'owner' });

test('GET /events serves an example payload for every event', async () => {
  const reply = await t.api('GET', '/events', { token: owner() });
  const events = reply.body.events as { event: string; example: Record<string, unknown> }[];
  expect(events.length).toBeGreaterThan(20);
  for (const { example } of events) expect(example).toMatchObject({ id_project: expect.any(String) });
});

test('an example event reaches the subscribers of that event and of the refinement, through the pipeline', async () => {
  const base = await subscribe(t, PROJECT, 'event.emit', `${receiver.url}/base`);
  const refined = await subscribe(t, PROJECT, 'event.emit.order.paid', `${receiver.url}/refined`);
  const other = await subscribe(t, PROJECT, 'request.create', `${receiver.url}/other`);

  const sent = await t.api('POST', `/${PROJECT}/events/example`, { token: owner(), body: { event: 'event.emit.order.paid' } });
  expect(sent.status).toBe(202);
  expect(sent.body).toMatchObject({ published: 1, event: 'event.emit', payload: { id_project: PROJECT, name: 'order.paid' } });

  const requests = await receiver.waitFor(2);
  const byPath = Object.fromEntries(requests.map((request) => [request.path, request]));
  expect(Object.keys(byPath).sort()).toEqual(['/hook/base', '/hook/refined']);
  const delivered = byPath['/hook/refined']!;
  const headers = Object.fromEntries(Object.entries(delivered.headers).map(([name, value]) => [name, String(value)]));
  expect(new Webhook(refined.secret).verify(delivered.body, headers)).toMatchObject({ payload: sent.body.payload });

  // One message, two subscriptions: the same event id in both message ids.
  const [baseLog] = await eventually(async () => {
    const attempts = await logsOf(t, PROJECT, base._id);
    expect(attempts).toHaveLength(1);
    return attempts;
  });
  const [refinedLog] = await logsOf(t, PROJECT, refined._id);
  expect(refinedLog!.webhookId).toBe(headers['webhook-id']);
  expect((refinedLog as unknown as { eventId: string }).eventId).toBe((baseLog as unknown as { eventId: string }).eventId);
  expect(await logsOf(t, PROJECT, other._id)).toEqual([]);
});

test('an agent may not send examples; operator.select and unknown events are refused naming the field', async () => {
  const agent = t.tokenFor({ [PROJECT]: 'agent' });
  expect((await t.api('POST', `/${PROJECT}/events/example`, { token: agent, body: { event: 'request.create' } })).status).toBe(403);
  const select = await t.api('POST', `/${PROJECT}/events/example`, { token: owner(), body: { event: 'operator.select' } });
  expect(select.status).toBe(400);
  expect(select.body.errors).toEqual([expect.objectContaining({ field: 'event' })]);
  const unknown = await t.api('POST', `/${PROJECT}/events/example`, { token: owner(), body: { event: 'request.explode' } });
  expect(unknown.status).toBe(400);
  expect(unknown.body.errors).toEqual([expect.objectContaining({ field: 'event' })]);
  const extra = await t.api('POST', `/${PROJECT}/events/example`, { token: owner(), body: { event: 'request.create', payload: {} } });
  expect(extra.status).toBe(400);
});
