import type { Attempt } from '../../lambdas/core/attempt';
import { TestStack, startTestStack } from '../support/local-stack-harness';

/*
 * The project history merges its subscriptions' attempt logs, so it must stop a page by size
 * itself: attempts carry payloads of up to 256 KB, and 200 of them would be far over what a
 * Lambda may answer (6 MB).
 */

const PROJECT = 'proj-history-pages';
const ATTEMPTS = 7;
const PAYLOAD_BYTES = 300 * 1024;

let t: TestStack;
let written: Attempt[];

beforeAll(async () => {
  t = await startTestStack();
  // The history reads the logs of the project's subscriptions: two, made through the API.
  const token = t.tokenFor({ [PROJECT]: 'owner' });
  const subscriptions: string[] = [];
  for (const path of ['a', 'b']) {
    const created = await t.api('POST', `/${PROJECT}/subscriptions`, { token, body: { event: 'message.create', target: `http://127.0.0.1:9/${path}` } });
    expect(created.status).toBe(200);
    subscriptions.push(created.body._id as string);
  }
  // Written straight to the table (dynalite) through the service's own store: 7 deliveries of
  // 300 KB events would take a receiver and minutes; the listing is what is under test.
  const { AttemptLogStore } = await import('../../lambdas/adapters/attempt-log-store');
  const { newLogId } = await import('../../lambdas/core/attempt');
  // Recent: attempts past their retention (7 days) are not listed (test/e2e/expired-items.test.ts).
  const start = Date.now() - ATTEMPTS * 1000 - 60_000;
  written = Array.from({ length: ATTEMPTS }, (_, n) => {
    const at = new Date(start + n * 1000);
    return {
      logId: newLogId(at),
      projectId: PROJECT,
      subscriptionId: subscriptions[n % 2]!,
      webhookId: `msg_e${n}_${subscriptions[n % 2]}`,
      eventId: `e${n}`,
      event: 'message.create',
      target: 'https://hooks.example.com/in',
      attempt: 1,
      outcome: 'delivered',
      statusCode: 200,
      durationMs: 12,
      attemptedAt: at.toISOString(),
      payload: { id_project: PROJECT, n, text: String(n).repeat(PAYLOAD_BYTES) },
    } satisfies Attempt;
  });
  await new AttemptLogStore(process.env.TABLE_NAME!).write(written);
});
afterAll(() => t.stop());

test('pages of large attempts stop at about 1 MB, and the cursor carries on with the next one', async () => {
  const token = t.tokenFor({ [PROJECT]: 'owner' });
  const pages: Attempt[][] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${cursor}` : '';
    const reply = await t.api('GET', `/${PROJECT}/subscriptions/history?limit=200${query}`, { token });
    expect(reply.status).toBe(200);
    expect(Buffer.byteLength(reply.text)).toBeLessThan(2 * 1024 * 1024);
    pages.push(reply.body.items as Attempt[]);
    cursor = reply.body.nextCursor as string | null;
  } while (cursor && pages.length < 10);

  // 300 KB each: four reach 1 MB, so 4 + 3.
  expect(pages.map((page) => page.length)).toEqual([4, 3]);
  expect(pages.flat()).toEqual([...written].reverse());
});

test('a limit below the size bound decides the page', async () => {
  const token = t.tokenFor({ [PROJECT]: 'owner' });
  const reply = await t.api('GET', `/${PROJECT}/subscriptions/history?limit=2`, { token });
  expect((reply.body.items as Attempt[]).map((attempt) => attempt.eventId)).toEqual(['e6', 'e5']);
  expect(reply.body.nextCursor).toEqual(expect.any(String));
});

test("a deleted subscription's attempts stay in the project history while they live", async () => {
  const token = t.tokenFor({ [PROJECT]: 'owner' });
  const deleted = written[1]!.subscriptionId;
  expect((await t.api('DELETE', `/${PROJECT}/subscriptions/${deleted}`, { token })).status).toBe(200);
  const reply = await t.api('GET', `/${PROJECT}/subscriptions/history?limit=3`, { token });
  expect((reply.body.items as Attempt[]).map((attempt) => attempt.eventId)).toEqual(['e6', 'e5', 'e4']);
  expect((reply.body.items as Attempt[])[1]!.subscriptionId).toBe(deleted);
});
