import { Webhook } from 'standardwebhooks';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { barrier, eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, Reply, startReceiver } from '../support/receiver';

// One retry after 1 s, and two dead deliveries in a row disable a subscription.
let t: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 1000, autoDisableAfterDead: 2 });
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

async function receiver(reply?: (index: number) => Reply): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

const owner = (projectId: string): string => t.tokenFor({ [projectId]: 'owner' });
const headersOf = (headers: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)]));

describe('secret rotation', () => {
  test('returns a new secret; during the overlap deliveries verify under the old and the new one', async () => {
    const hook = await receiver();
    const created = await subscribe(t, 'proj-rotate', 'lead.create', hook.url);
    const rotated = await t.api('POST', `/proj-rotate/subscriptions/${created._id}/rotate-secret`, { token: owner('proj-rotate') });
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(created.secret);
    expect(rotated.headers.get('x-hook-secret')).toBe(newSecret);
    const overlapEnds = Date.parse(rotated.body.previousSecretExpiresAt as string);
    expect(overlapEnds - Date.now()).toBeGreaterThan(23.9 * 3600 * 1000);

    await publish(t, [{ type: 'lead.create', detail: { id_project: 'proj-rotate', email: 'a@example.com' } }]);
    const [request] = await hook.waitFor(1);
    const headers = headersOf(request!.headers);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(headers['x-hook-secret']).toBe(newSecret);
    expect(() => new Webhook(newSecret).verify(request!.body, headers)).not.toThrow();
    expect(() => new Webhook(created.secret).verify(request!.body, headers)).not.toThrow();

    const shown = await t.api('GET', `/proj-rotate/subscriptions/${created._id}`, { token: owner('proj-rotate') });
    expect(shown.body).not.toHaveProperty('secret');
    expect(shown.body).not.toHaveProperty('previousSecret');
  });
});

describe('test ping', () => {
  test('against a live receiver: a signed test delivery and the attempt', async () => {
    const hook = await receiver(() => ({ status: 200, body: 'pong' }));
    const created = await subscribe(t, 'proj-ping', 'request.create', hook.url);
    const reply = await t.api('POST', `/proj-ping/subscriptions/${created._id}/test`, { token: owner('proj-ping') });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ outcome: 'delivered', statusCode: 200, responseBody: 'pong', attempt: 1 });
    expect(typeof reply.body.durationMs).toBe('number');
    expect(reply.body).not.toHaveProperty('payload');

    const [request] = await hook.waitFor(1);
    const verified = new Webhook(created.secret).verify(request!.body, headersOf(request!.headers)) as { payload: unknown };
    expect(verified.payload).toMatchObject({ id_project: 'proj-ping', test: true, event: 'request.create' });
    // A test ping has its own webhook id, never one an event delivery could have.
    const webhookId = String(request!.headers['webhook-id']);
    expect(webhookId).toMatch(/^msg_test_[^.]+$/);
    expect(reply.body.webhookId).toBe(webhookId);
    const logs = await logsOf(t, 'proj-ping', created._id);
    expect(logs.map((log) => [log.outcome, log.webhookId])).toEqual([['delivered', webhookId]]);
  });

  test('against a dead receiver: the failed attempt, with its error', async () => {
    const gone = await startReceiver();
    await gone.close();
    const created = await subscribe(t, 'proj-ping-dead', 'request.create', gone.url);
    const reply = await t.api('POST', `/proj-ping-dead/subscriptions/${created._id}/test`, { token: owner('proj-ping-dead') });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ outcome: 'failed', errorKind: 'network' });
    expect(reply.body.error).toMatch(/ECONNREFUSED/);
  });

  test('against a receiver answering 500: failed with the status and body', async () => {
    const hook = await receiver(() => ({ status: 500, body: 'boom' }));
    const created = await subscribe(t, 'proj-ping-500', 'request.create', hook.url);
    const reply = await t.api('POST', `/proj-ping-500/subscriptions/${created._id}/test`, { token: owner('proj-ping-500') });
    expect(reply.body).toMatchObject({ outcome: 'failed', statusCode: 500, responseBody: 'boom' });
  });
});

describe('auto-disable, re-enable and recover', () => {
  test('what was missed is delivered after recovery, once per webhook-id', async () => {
    let healthy = false;
    const hook = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
    const created = await subscribe(t, 'proj-recover', 'request.create', hook.url);
    const since = new Date(Date.now() - 1000).toISOString();
    const token = owner('proj-recover');

    // Two events die in a row (two attempts each): the subscription is disabled.
    for (const n of [1, 2]) {
      await publish(t, [{ type: 'request.create', detail: { id_project: 'proj-recover', n } }]);
      await eventually(async () => {
        const logs = await logsOf(t, 'proj-recover', created._id);
        expect(logs.filter((log) => log.outcome === 'dead')).toHaveLength(n);
      });
    }
    const disabled = await eventually(async () => {
      const reply = await t.api('GET', `/proj-recover/subscriptions/${created._id}`, { token });
      expect(reply.body.status).toBe('disabled');
      return reply.body;
    });
    expect(disabled.disabledReason).toMatch(/2 deliveries in a row/);

    // While disabled, an event is recorded, not POSTed.
    const postsBefore = hook.received.length;
    await publish(t, [{ type: 'request.create', detail: { id_project: 'proj-recover', n: 3 } }]);
    await eventually(async () => {
      const logs = await logsOf(t, 'proj-recover', created._id);
      expect(logs.filter((log) => log.outcome === 'skipped')).toHaveLength(1);
    });
    expect(hook.received.length).toBe(postsBefore);
    const refused = await t.api('POST', `/proj-recover/subscriptions/${created._id}/recover`, { token, body: { since } });
    expect(refused.status).toBe(409);

    // Re-enable, then recover: the three missed events arrive, each once.
    healthy = true;
    const enabled = await t.api('PUT', `/proj-recover/subscriptions/${created._id}`, { token, body: { status: 'active' } });
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe('active');
    expect(enabled.body).not.toHaveProperty('disabledReason');
    const recovered = await t.api('POST', `/proj-recover/subscriptions/${created._id}/recover`, { token, body: { since } });
    expect(recovered.status).toBe(202);
    expect(recovered.body.recovered).toBe(3);

    await hook.waitFor(postsBefore + 3);
    // Each once: nothing more past a barrier that waits out a retry.
    await barrier(t, { afterRetries: 1 });
    const delivered = hook.received.slice(postsBefore);
    expect(delivered).toHaveLength(3);
    const ids = delivered.map((request) => String(request.headers['webhook-id']));
    expect(new Set(ids).size).toBe(3);
    expect(delivered.map((request) => JSON.parse(request.body).payload.n).sort()).toEqual([1, 2, 3]);

    // A second recovery finds nothing left to send.
    const again = await t.api('POST', `/proj-recover/subscriptions/${created._id}/recover`, { token, body: { since } });
    await eventually(async () => {
      const logs = await logsOf(t, 'proj-recover', created._id);
      expect(logs.filter((log) => log.outcome === 'delivered')).toHaveLength(3);
    });
    expect(again.body.recovered).toBe(0);
  });

  test('two recovers at once, then one more, send a dead delivery once', async () => {
    let healthy = false;
    const hook = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
    const created = await subscribe(t, 'proj-recover-twice', 'request.create', hook.url);
    const since = new Date(Date.now() - 1000).toISOString();
    const token = owner('proj-recover-twice');
    await publish(t, [{ type: 'request.create', detail: { id_project: 'proj-recover-twice', n: 1 } }]);
    await eventually(async () => {
      const logs = await logsOf(t, 'proj-recover-twice', created._id);
      expect(logs.filter((log) => log.outcome === 'dead')).toHaveLength(1);
    });
    healthy = true;
    const postsBefore = hook.received.length;
    const recover = () => t.api('POST', `/proj-recover-twice/subscriptions/${created._id}/recover`, { token, body: { since } });
    const [first, second] = await Promise.all([recover(), recover()]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect((first.body.recovered as number) + (second.body.recovered as number)).toBe(1);
    expect((first.body.alreadyRecovered as number) + (second.body.alreadyRecovered as number)).toBe(1);
    expect(first.body.nextCursor).toBeNull();
    await hook.waitFor(postsBefore + 1);
    const third = await recover();
    expect(third.body).toMatchObject({ recovered: 0 });
    await barrier(t, { afterRetries: 1 });
    expect(hook.received.slice(postsBefore)).toHaveLength(1);
  });

  test('recover refuses a since that is not a date-time', async () => {
    const hook = await receiver();
    const created = await subscribe(t, 'proj-recover-bad', 'request.create', hook.url);
    const reply = await t.api('POST', `/proj-recover-bad/subscriptions/${created._id}/recover`, {
      token: owner('proj-recover-bad'),
      body: { since: 'yesterday' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.errors).toEqual([expect.objectContaining({ field: 'since' })]);
  });
});

describe('replay one', () => {
  test('resends a logged delivery under the same webhook-id', async () => {
    const hook = await receiver();
    const created = await subscribe(t, 'proj-replay', 'faq.update', hook.url);
    await publish(t, [{ type: 'faq.update', detail: { id_project: 'proj-replay', question: 'q?' } }]);
    const [first] = await hook.waitFor(1);
    const [log] = await eventually(async () => {
      const logs = await logsOf(t, 'proj-replay', created._id);
      expect(logs).toHaveLength(1);
      return logs;
    });
    const logId = (log as unknown as { logId: string }).logId;

    const reply = await t.api('POST', `/proj-replay/subscriptions/${created._id}/logs/${logId}/retry`, {
      token: owner('proj-replay'),
    });
    expect(reply.status).toBe(202);
    const [, second] = await hook.waitFor(2);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(JSON.parse(second!.body).payload).toEqual(JSON.parse(first!.body).payload);
    // Resent once.
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(2);

    const missing = await t.api('POST', `/proj-replay/subscriptions/${created._id}/logs/00000000000000-nope/retry`, {
      token: owner('proj-replay'),
    });
    expect(missing.status).toBe(404);
  });

  test('a subscription moved to another event since skips the replay, rather than deliver the old payload under the new name', async () => {
    const hook = await receiver();
    const created = await subscribe(t, 'proj-replay-moved', 'department.create', hook.url);
    await publish(t, [{ type: 'department.create', detail: { id_project: 'proj-replay-moved', name: 'Sales' } }]);
    await hook.waitFor(1);
    const [log] = await eventually(async () => {
      const logs = await logsOf(t, 'proj-replay-moved', created._id);
      expect(logs).toHaveLength(1);
      return logs;
    });
    const token = owner('proj-replay-moved');
    expect((await t.api('PUT', `/proj-replay-moved/subscriptions/${created._id}`, { token, body: { event: 'faq.create' } })).status).toBe(200);

    const logId = (log as unknown as { logId: string }).logId;
    expect((await t.api('POST', `/proj-replay-moved/subscriptions/${created._id}/logs/${logId}/retry`, { token })).status).toBe(202);
    const skipped = await eventually(async () => {
      const logs = await logsOf(t, 'proj-replay-moved', created._id);
      expect(logs).toHaveLength(2);
      return logs.find((entry) => entry.outcome === 'skipped');
    });
    expect(skipped).toMatchObject({ event: 'department.create', error: expect.stringMatching(/now listens to faq\.create/) });
    expect(hook.received).toHaveLength(1);
  });

  test("a test ping's log is not replayed through the queue: 409 naming the test route", async () => {
    const hook = await receiver();
    const created = await subscribe(t, 'proj-replay-ping', 'lead.create', hook.url);
    const token = owner('proj-replay-ping');
    const ping = await t.api('POST', `/proj-replay-ping/subscriptions/${created._id}/test`, { token });
    expect(ping.status).toBe(200);
    const reply = await t.api('POST', `/proj-replay-ping/subscriptions/${created._id}/logs/${String(ping.body.logId)}/retry`, { token });
    expect(reply.status).toBe(409);
    expect(reply.body.msg).toMatch(/test ping: send a new one with POST .*\/test/);
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(1);
  });
});

describe('concurrent changes of one subscription', () => {
  test('the same PUT sent twice at once leaves the subscription routed: its events still arrive, and the pair still answers as a duplicate', async () => {
    const first = await receiver();
    const second = await receiver();
    const token = owner('proj-double-put');
    for (let round = 0; round < 3; round++) {
      const created = await subscribe(t, 'proj-double-put', 'request.create', `${first.url}?round=${round}`);
      const moved = `${second.url}?round=${round}`;
      const replies = await Promise.all([0, 1].map(() => t.api('PUT', `/proj-double-put/subscriptions/${created._id}`, { token, body: { target: moved } })));
      expect(replies.map((reply) => reply.status)).toContain(200);
      // The pair is still guarded: creating it again answers the same subscription.
      const again = await t.api('POST', '/proj-double-put/subscriptions', { token, body: { event: 'request.create', target: moved } });
      expect(again.status).toBe(200);
      expect(again.body._id).toBe(created._id);
    }
    await publish(t, [{ type: 'request.create', detail: { id_project: 'proj-double-put', n: 1 } }]);
    // Each round's subscription gets the event at its new target.
    expect(await second.waitFor(3)).toHaveLength(3);
    expect(first.received).toHaveLength(0);
  });
});
