import { TestStack, startTestStack } from '../support/local-stack-harness';

/** Small limits, as a deployment's context would set them, so a test can cross them. */
const INGEST = { rateLimit: 2, burstLimit: 3 };
const STAGE = { rateLimit: 1, burstLimit: 2 };

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ ingestThrottle: INGEST, apiThrottle: STAGE });
});
afterAll(() => t.stop());

const post = (path: string, body: string) => fetch(`${t.stack.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the ingest route answers 429 as API Gateway does above its configured burst, and takes requests again at its rate', async () => {
  const replies = [];
  for (let n = 0; n < INGEST.burstLimit + 3; n += 1) replies.push(await post('/tiledesk/ingest', '{}'));
  const statuses = replies.map((reply) => reply.status);
  // The burst reaches the function (which refuses an unsigned body); the rest are throttled.
  expect(statuses.slice(0, INGEST.burstLimit).every((status) => status !== 429)).toBe(true);
  expect(statuses.slice(INGEST.burstLimit + 1)).toEqual([429, 429]);
  const throttled = replies.find((reply) => reply.status === 429)!;
  expect(await throttled.json()).toEqual({ message: 'Too Many Requests' });

  // A token a half second at 2 requests/s.
  await sleep(600);
  expect((await post('/tiledesk/ingest', '{}')).status).not.toBe(429);
});

test('every other route keeps the stage default, each route with its own bucket', async () => {
  await sleep(2500);
  const statuses = [];
  for (let n = 0; n < STAGE.burstLimit + 1; n += 1) statuses.push((await fetch(`${t.stack.apiUrl}/openapi.json`)).status);
  expect(statuses).toEqual([200, 200, 429]);
  // The ingest route's bucket is its own: the stage default's being empty does not throttle it.
  expect((await post('/tiledesk/ingest', '{}')).status).not.toBe(429);
});

test("a body under 10 MB whose event JSON passes Lambda's 6 MB (its quotes escaped) gets 413 Request Too Long, as Lambda refuses the invocation", async () => {
  await sleep(2500);
  // 3.5 MB of quotes: 7 MB once escaped into the event's `body` string.
  const reply = await post('/p1/events', '"'.repeat(3.5 * 1024 * 1024));
  expect(reply.status).toBe(413);
  expect(await reply.json()).toEqual({ message: 'Request Too Long' });
});

test('a body over the HTTP API payload limit (10 MB) gets 413 before any function runs', async () => {
  await sleep(2500);
  const reply = await post('/p1/events', 'x'.repeat(10 * 1024 * 1024 + 1));
  expect(reply.status).toBe(413);
  expect(await reply.json()).toEqual({ message: 'Request Entity Too Large' });
});
