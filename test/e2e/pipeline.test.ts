import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { Webhook } from 'standardwebhooks';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { barrier, eventually, logsOf, peekQueue, publish, subscribe } from '../support/pipeline';
import { Receiver, ReceivedRequest, Reply, startReceiver } from '../support/receiver';

// A short schedule (two retries, 1 s apart) and timeout so retries and the DLQ show in seconds.
const RETRY_SCHEDULE = [1, 1];
const DELIVERY_TIMEOUT_MS = 1000;

let t: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: RETRY_SCHEDULE, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS });
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

async function receiver(reply?: (index: number, request: ReceivedRequest) => Reply): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

function headersOf(request: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
}

describe('a published event', () => {
  test('reaches the subscriber as a POST that standardwebhooks verifies', async () => {
    const hook = await receiver();
    const subscription = await subscribe(t, 'proj-signed', 'request.create', hook.url);
    const payload = { id_project: 'proj-signed', request_id: 'support-group-1', first_text: 'hello' };
    const [entry] = await publish(t, [{ type: 'request.create', detail: payload }]);
    expect(entry?.EventId).toBeDefined();

    const [request] = await hook.waitFor(1);
    const headers = headersOf(request!);
    const verified = new Webhook(subscription.secret).verify(request!.body, headers) as Record<string, unknown>;
    expect(verified.payload).toEqual(payload);
    expect(verified.hook).toMatchObject({ _id: subscription._id, event: 'request.create', id_project: 'proj-signed' });
    expect(verified.hook).not.toHaveProperty('secret');
    expect(typeof verified.timestamp).toBe('number');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toBe('tiledesk-webhooks');
    expect(headers.origin).toBe(t.stack.apiUrl);
    expect(headers['x-hook-secret']).toBe(subscription.secret);
    expect(headers['webhook-id']).toBe(`msg_${entry!.EventId}_${subscription._id}`);
    expect(headers['webhook-id']).not.toContain('.');
    expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);

    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-signed', subscription._id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(logs[0]).toMatchObject({ attempt: 1, outcome: 'delivered', statusCode: 200 });
    // Delivered once: nothing more arrives or is logged past a barrier.
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(1);
    expect(await logsOf(t, 'proj-signed', subscription._id)).toHaveLength(1);
  });

  test('carries its payload byte for byte, emoji and key order included', async () => {
    const hook = await receiver();
    await subscribe(t, 'proj-bytes', 'message.create', hook.url);
    const detail = JSON.stringify({ text: 'ciao 👋 café 日本語 "quoted" \\ \n', '7': 'integer-like key', sender: { name: 'Zoë' }, id_project: 'proj-bytes' });
    const client = new EventBridgeClient({ endpoint: t.stack.awsEndpoint });
    const { FailedEntryCount } = await client.send(
      new PutEventsCommand({ Entries: [{ EventBusName: t.stack.busName, Source: 'tiledesk', DetailType: 'message.create', Detail: detail }] }),
    );
    expect(FailedEntryCount).toBe(0);

    const [request] = await hook.waitFor(1);
    expect(request!.body).toContain(`,"payload":${detail},"token":"`);
  });

  test('is delivered under its channel refinement, once per subscription', async () => {
    const base = await receiver();
    const telegram = await receiver();
    const whatsapp = await receiver();
    await subscribe(t, 'proj-channel', 'message.create', base.url);
    await subscribe(t, 'proj-channel', 'message.create.request.channel.telegram', telegram.url);
    await subscribe(t, 'proj-channel', 'message.create.request.channel.whatsapp', whatsapp.url);

    await publish(t, [
      { type: 'message.create', detail: { id_project: 'proj-channel', text: 'hi', request: { channel: { name: 'telegram' } } } },
    ]);
    await base.waitFor(1);
    await telegram.waitFor(1);
    await barrier(t);
    expect(base.received).toHaveLength(1);
    expect(telegram.received).toHaveLength(1);
    expect(whatsapp.received).toHaveLength(0);
    expect(JSON.parse(telegram.received[0]!.body).hook.event).toBe('message.create.request.channel.telegram');
  });

  test('is delivered under its event.emit refinement', async () => {
    const typing = await receiver();
    const other = await receiver();
    await subscribe(t, 'proj-emit', 'event.emit.typing.start', typing.url);
    await subscribe(t, 'proj-emit', 'event.emit.typing.stop', other.url);

    await publish(t, [{ type: 'event.emit', detail: { id_project: 'proj-emit', name: 'typing.start' } }]);
    const [request] = await typing.waitFor(1);
    expect(JSON.parse(request!.body).payload).toEqual({ id_project: 'proj-emit', name: 'typing.start' });
    await barrier(t);
    expect(typing.received).toHaveLength(1);
    expect(other.received).toHaveLength(0);
  });

  test("never reaches another project's subscriber", async () => {
    const mine = await receiver();
    const theirs = await receiver();
    await subscribe(t, 'proj-mine', 'lead.create', mine.url);
    await subscribe(t, 'proj-theirs', 'lead.create', theirs.url);

    await publish(t, [{ type: 'lead.create', detail: { id_project: 'proj-mine', email: 'a@example.com' } }]);
    await mine.waitFor(1);
    await barrier(t);
    expect(mine.received).toHaveLength(1);
    expect(theirs.received).toHaveLength(0);
  });
});

describe('retries', () => {
  test('a receiver failing twice then succeeding is retried on the schedule and delivered once', async () => {
    const hook = await receiver((index) => (index < 2 ? { status: 500, body: 'try later' } : { status: 200, body: 'ok' }));
    const subscription = await subscribe(t, 'proj-retry', 'faq.create', hook.url);
    await publish(t, [{ type: 'faq.create', detail: { id_project: 'proj-retry', question: 'q' } }]);

    const requests = await hook.waitFor(3);
    const ids = new Set(requests.map((request) => request.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (let n = 1; n < 3; n++) {
      // 1 s ± 20 % jitter, rounded to whole seconds by SQS visibility.
      expect(requests[n]!.at - requests[n - 1]!.at).toBeGreaterThanOrEqual(700);
    }
    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-retry', subscription._id);
      expect(found).toHaveLength(3);
      return found;
    });
    expect(logs.map((log) => [log.attempt, log.outcome, log.statusCode])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'delivered', 200],
    ]);
    expect(logs[0]!.responseBody).toBe('try later');
    // On the schedule: each failed attempt planned its retry 1 s (± 20 % jitter) after it, and
    // the retry was not sent before that (rounded to whole seconds by SQS delays).
    for (const [failed, next] of [[logs[0]!, logs[1]!], [logs[1]!, logs[2]!]] as const) {
      const plannedMs = Date.parse(failed.nextAttemptAt!) - Date.parse(failed.attemptedAt);
      expect(plannedMs).toBeGreaterThanOrEqual(RETRY_SCHEDULE[0]! * 1000 * 0.8);
      expect(plannedMs).toBeLessThanOrEqual(RETRY_SCHEDULE[0]! * 1000 * 1.2);
      expect(Date.parse(next.attemptedAt)).toBeGreaterThanOrEqual(Date.parse(failed.nextAttemptAt!) - 500);
    }
    // Delivered once: no further POST or log past a barrier that waits out a retry.
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(3);
    expect(await logsOf(t, 'proj-retry', subscription._id)).toHaveLength(3);
  });

  test('a receiver that never succeeds ends in the delivery DLQ with every attempt logged', async () => {
    const hook = await receiver(() => ({ status: 503, body: 'down' }));
    const subscription = await subscribe(t, 'proj-dead', 'department.create', hook.url);
    await publish(t, [{ type: 'department.create', detail: { id_project: 'proj-dead', name: 'Sales' } }]);

    await hook.waitFor(RETRY_SCHEDULE.length + 1);
    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-dead', subscription._id);
      expect(found).toHaveLength(3);
      return found;
    });
    expect(logs.map((log) => log.outcome)).toEqual(['failed', 'failed', 'dead']);
    expect(logs[2]!.error).toMatch(/moved to the DLQ/);

    const dead = await eventually(async () => {
      const bodies = await peekQueue(t, t.stack.queues.deliveryDlq.url);
      const mine = bodies.map((body) => JSON.parse(body)).find((message) => message.subscriptionId === subscription._id);
      expect(mine).toBeDefined();
      return mine;
    });
    expect(dead.payload).toEqual({ id_project: 'proj-dead', name: 'Sales' });
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(3);
    expect(await logsOf(t, 'proj-dead', subscription._id)).toHaveLength(3);
  });

  test('a Retry-After within bounds replaces the scheduled delay', async () => {
    const hook = await receiver((index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 },
    );
    const subscription = await subscribe(t, 'proj-retry-after', 'group.create', hook.url);
    await publish(t, [{ type: 'group.create', detail: { id_project: 'proj-retry-after', name: 'g' } }]);
    const requests = await hook.waitFor(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(1800);
    // Planned 2 s out as asked, without the schedule's jitter.
    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-retry-after', subscription._id);
      expect(found.map((log) => log.outcome)).toEqual(['failed', 'delivered']);
      return found;
    });
    expect(Date.parse(logs[0]!.nextAttemptAt!) - Date.parse(logs[0]!.attemptedAt)).toBe(2000);
  });

  test('a timeout is logged as one and retried', async () => {
    const hook = await receiver((index) => (index === 0 ? { hang: true } : { status: 204 }));
    const subscription = await subscribe(t, 'proj-timeout', 'request.close', hook.url);
    await publish(t, [{ type: 'request.close', detail: { id_project: 'proj-timeout', messages: [] } }]);

    await hook.waitFor(2);
    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-timeout', subscription._id);
      expect(found).toHaveLength(2);
      return found;
    });
    expect(logs[0]).toMatchObject({ outcome: 'failed', errorKind: 'timeout' });
    expect(logs[0]!.error).toContain(`timeout after ${DELIVERY_TIMEOUT_MS} ms`);
    expect(logs[0]!.durationMs).toBeGreaterThanOrEqual(DELIVERY_TIMEOUT_MS - 50);
    expect(logs[1]).toMatchObject({ outcome: 'delivered', statusCode: 204 });
    // The hung first attempt is not delivered late as a third request.
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(2);
    expect(await logsOf(t, 'proj-timeout', subscription._id)).toHaveLength(2);
  });

  test('a connection reset is a failed attempt, retried', async () => {
    const hook = await receiver((index) => (index === 0 ? { reset: true } : { status: 200 }));
    const subscription = await subscribe(t, 'proj-reset', 'request.update', hook.url);
    await publish(t, [{ type: 'request.update', detail: { id_project: 'proj-reset' } }]);
    await hook.waitFor(2);
    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-reset', subscription._id);
      expect(found).toHaveLength(2);
      return found;
    });
    expect(logs[0]).toMatchObject({ outcome: 'failed', errorKind: 'network' });
    expect(logs[1]).toMatchObject({ outcome: 'delivered' });
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(2);
    expect(await logsOf(t, 'proj-reset', subscription._id)).toHaveLength(2);
  });
});

describe('subscription changes', () => {
  test('410 Gone unsubscribes (REST Hooks) and the log says why', async () => {
    const hook = await receiver(() => ({ status: 410 }));
    const subscription = await subscribe(t, 'proj-gone', 'faqbot.create', hook.url);
    await publish(t, [{ type: 'faqbot.create', detail: { id_project: 'proj-gone', name: 'bot' } }]);
    await hook.waitFor(1);

    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-gone', subscription._id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(logs[0]).toMatchObject({ outcome: 'unsubscribed', statusCode: 410 });
    expect(logs[0]!.error).toMatch(/410 Gone/);
    const reply = await t.api('GET', `/proj-gone/subscriptions/${subscription._id}`, {
      token: t.tokenFor({ 'proj-gone': 'owner' }),
    });
    expect(reply.status).toBe(404);

    await publish(t, [{ type: 'faqbot.create', detail: { id_project: 'proj-gone', name: 'bot 2' } }]);
    // Neither a retry of the first event nor the second event reaches it past the barrier.
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(1);
    expect(await logsOf(t, 'proj-gone', subscription._id)).toHaveLength(1);
  });

  test('a subscription deleted while a retry is pending gets no further POST, and the log says so', async () => {
    const hook = await receiver(() => ({ status: 500 }));
    const subscription = await subscribe(t, 'proj-deleted', 'project_user.invite', hook.url);
    await publish(t, [{ type: 'project_user.invite', detail: { id_project: 'proj-deleted', email: 'x@example.com' } }]);
    await hook.waitFor(1);
    const deleted = await t.api('DELETE', `/proj-deleted/subscriptions/${subscription._id}`, {
      token: t.tokenFor({ 'proj-deleted': 'owner' }),
    });
    expect(deleted.status).toBe(200);

    const logs = await eventually(async () => {
      const found = await logsOf(t, 'proj-deleted', subscription._id);
      expect(found).toHaveLength(2);
      return found;
    });
    expect(logs[1]).toMatchObject({ outcome: 'skipped', attempt: 2 });
    expect(logs[1]!.error).toMatch(/deleted/);
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(1);
    expect(await logsOf(t, 'proj-deleted', subscription._id)).toHaveLength(2);
  });
});

describe('bad events', () => {
  // The rule does not read the event (its target sets no message group, docs/design.md §3.2):
  // an event published to the bus without id_project reaches the fan-out, which can route it to
  // no project and sends it towards the fan-out DLQ, kept there with its body.
  test('an event without id_project ends in the fan-out DLQ', async () => {
    const [entry] = await publish(t, [{ type: 'request.create', detail: { request_id: 'no-project' } }]);
    const dead = await eventually(async () => {
      const bodies = await peekQueue(t, t.stack.queues.fanOutDlq.url);
      const mine = bodies.map((body) => JSON.parse(body)).find((envelope) => envelope.id === entry?.EventId);
      expect(mine).toBeDefined();
      return mine;
    }, 30_000);
    expect(dead.detail).toEqual({ request_id: 'no-project' });
    expect(await peekQueue(t, t.stack.queues.ruleDlq.url)).toEqual([]);
  });

  test('PutEvents refuses an entry whose Detail is not JSON, and accepts the others', async () => {
    const { EventBridgeClient, PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
    const client = new EventBridgeClient({ endpoint: t.stack.awsEndpoint });
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: 'tiledesk', Source: 'tiledesk', DetailType: 'lead.create', Detail: '{not json' },
          { EventBusName: 'tiledesk', Source: 'tiledesk', DetailType: 'lead.create', Detail: '{"id_project":"proj-x"}' },
          { EventBusName: 'nope', Source: 'tiledesk', DetailType: 'lead.create', Detail: '{"id_project":"proj-x"}' },
        ],
      }),
    );
    expect(result.FailedEntryCount).toBe(2);
    expect(result.Entries?.[0]?.ErrorCode).toBe('MalformedDetail');
    expect(result.Entries?.[1]?.EventId).toBeDefined();
    expect(result.Entries?.[2]?.ErrorCode).toBe('NotFoundException');
  });
});
