import dns, { LookupAddress } from 'node:dns';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { TABLE_KEYS } from '../../lambdas/core/settings';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { LoggedAttempt, barrier, eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { ReceivedRequest, Reply, Receiver, startReceiver } from '../support/receiver';
import { UNREACHABLE_TARGET } from '../../lambdas/core/target-policy';

/**
 * Behaviours the README promises that no other test reached, end to end on the local stack,
 * asserted through what a user sees: API answers, attempt logs, what receivers get.
 */

// One retry after 1 s; two dead deliveries in a row disable a subscription.
const AUTO_DISABLE_AFTER_DEAD = 2;
/** A host name the test resolves itself: to loopback when the subscription is created, to a private address at delivery. */
const REBINDING_HOST = 'rebinding.webhooks.test';

let t: TestStack;
const receivers: Receiver[] = [];
let rebindingAnswer: LookupAddress[] = [];

beforeAll(async () => {
  // Delivery resolves through dns.lookup (a vetting lookup built on first use); creation through
  // dns.promises.lookup. Other names resolve as usual.
  const realLookup = dns.lookup.bind(dns);
  jest.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback: unknown) => {
    if (hostname !== REBINDING_HOST) return (realLookup as (...args: unknown[]) => void)(hostname, options, callback);
    const done = (typeof options === 'function' ? options : callback) as (error: Error | null, addresses: LookupAddress[]) => void;
    process.nextTick(() => done(null, rebindingAnswer));
  }) as unknown as typeof dns.lookup);
  const realPromiseLookup = dns.promises.lookup.bind(dns.promises);
  jest.spyOn(dns.promises, 'lookup').mockImplementation(((hostname: string, options?: unknown) =>
    hostname === REBINDING_HOST
      ? Promise.resolve([{ address: '127.0.0.1', family: 4 }])
      : (realPromiseLookup as (...args: unknown[]) => Promise<unknown>)(hostname, options)) as unknown as typeof dns.promises.lookup);
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 1000, autoDisableAfterDead: AUTO_DISABLE_AFTER_DEAD, functionThread: false });
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
  jest.restoreAllMocks();
});

async function receiver(reply?: (index: number, request: ReceivedRequest) => Reply): Promise<Receiver> {
  const started = await startReceiver(reply);
  receivers.push(started);
  return started;
}

const owner = (projectId: string): string => t.tokenFor({ [projectId]: 'owner' });
const headersOf = (request: ReceivedRequest): Record<string, string> =>
  Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
const payloadOf = (request: ReceivedRequest): Record<string, unknown> => (JSON.parse(request.body) as { payload: Record<string, unknown> }).payload;

async function statusOf(projectId: string, subscriptionId: string): Promise<unknown> {
  const reply = await t.api('GET', `/${projectId}/subscriptions/${subscriptionId}`, { token: owner(projectId) });
  return reply.status === 200 ? reply.body.status : reply.status;
}

/**
 * Publishes event `n` to a subscription of `hook` and waits until the latest logged attempt of
 * its delivery (found by the webhook id the hook saw) is `outcome`.
 */
async function deliverAndSettle(hook: Receiver, projectId: string, subscriptionId: string, n: number, outcome: LoggedAttempt['outcome']): Promise<void> {
  await publish(t, [{ type: 'request.create', detail: { id_project: projectId, n } }]);
  const webhookId = await eventually(() => {
    const request = hook.received.find((received) => payloadOf(received).n === n);
    if (!request) throw new Error(`event ${n} not received yet`);
    return String(request.headers['webhook-id']);
  }, 30_000);
  await eventually(async () => {
    const logs = await logsOf(t, projectId, subscriptionId);
    expect(logs.filter((log) => log.webhookId === webhookId).at(-1)?.outcome).toBe(outcome);
  }, 30_000);
}

describe('test ping', () => {
  test('a 410 answer to a test ping does not unsubscribe', async () => {
    let gone = true;
    const hook = await receiver(() => (gone ? { status: 410 } : { status: 200 }));
    const created = await subscribe(t, 'rb-ping-410', 'request.create', hook.url);

    const ping = await t.api('POST', `/rb-ping-410/subscriptions/${created._id}/test`, { token: owner('rb-ping-410') });
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ statusCode: 410 });
    expect(ping.body.outcome).not.toBe('unsubscribed');

    expect(await statusOf('rb-ping-410', created._id)).toBe('active');
    // And it still gets the project's events.
    gone = false;
    await publish(t, [{ type: 'request.create', detail: { id_project: 'rb-ping-410', n: 1 } }]);
    const [, delivered] = await hook.waitFor(2);
    expect(payloadOf(delivered!)).toEqual({ id_project: 'rb-ping-410', n: 1 });
  });
});

describe('auto-disable', () => {
  /** A receiver failing the events whose payload `n` is in `failing`, answering 200 to the rest. */
  async function failingFor(failing: Set<number>): Promise<Receiver> {
    return receiver((_index, request) => (failing.has(Number(payloadOf(request).n)) ? { status: 500 } : { status: 200 }));
  }

  test('a success between dead deliveries resets the count', async () => {
    const projectId = 'rb-disable-reset';
    const hook = await failingFor(new Set([1, 3, 4]));
    const created = await subscribe(t, projectId, 'request.create', hook.url);

    await deliverAndSettle(hook, projectId, created._id, 1, 'dead');
    await deliverAndSettle(hook, projectId, created._id, 2, 'delivered');
    await deliverAndSettle(hook, projectId, created._id, 3, 'dead');
    // Two dead deliveries, but not in a row.
    expect(await statusOf(projectId, created._id)).toBe('active');

    await deliverAndSettle(hook, projectId, created._id, 4, 'dead');
    await eventually(async () => expect(await statusOf(projectId, created._id)).toBe('disabled'));
  });

  test('re-enabling resets the count: one more dead delivery does not disable it again', async () => {
    const projectId = 'rb-disable-reenable';
    const hook = await failingFor(new Set([1, 2, 3, 4]));
    const created = await subscribe(t, projectId, 'request.create', hook.url);
    await deliverAndSettle(hook, projectId, created._id, 1, 'dead');
    await deliverAndSettle(hook, projectId, created._id, 2, 'dead');
    await eventually(async () => expect(await statusOf(projectId, created._id)).toBe('disabled'));

    const enabled = await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, { token: owner(projectId), body: { status: 'active' } });
    expect(enabled.status).toBe(200);
    await deliverAndSettle(hook, projectId, created._id, 3, 'dead');
    expect(await statusOf(projectId, created._id)).toBe('active');

    await deliverAndSettle(hook, projectId, created._id, 4, 'dead');
    await eventually(async () => expect(await statusOf(projectId, created._id)).toBe('disabled'));
  });
});

describe('recover', () => {
  test('a since between two dead deliveries re-enqueues only the later one, never a pending retry', async () => {
    const projectId = 'rb-recover-since';
    let healthy = false;
    // Event 3 is answered "come back in an hour": its retry is pending, not overdue.
    const hook = await receiver((_index, request) => {
      const n = Number(payloadOf(request).n);
      if (n === 3) return { status: 429, headers: { 'retry-after': '3600' } };
      return healthy ? { status: 200 } : { status: 500 };
    });
    const created = await subscribe(t, projectId, 'request.create', hook.url);
    const token = owner(projectId);

    await deliverAndSettle(hook, projectId, created._id, 1, 'dead');
    const since = new Date().toISOString();
    await deliverAndSettle(hook, projectId, created._id, 3, 'failed');
    await deliverAndSettle(hook, projectId, created._id, 2, 'dead');
    await eventually(async () => expect(await statusOf(projectId, created._id)).toBe('disabled'));

    healthy = true;
    expect((await t.api('PUT', `/${projectId}/subscriptions/${created._id}`, { token, body: { status: 'active' } })).status).toBe(200);
    const postsBefore = hook.received.length;
    const recovered = await t.api('POST', `/${projectId}/subscriptions/${created._id}/recover`, { token, body: { since } });
    expect(recovered.status).toBe(202);
    expect(recovered.body.recovered).toBe(1);

    const [again] = (await hook.waitFor(postsBefore + 1)).slice(postsBefore);
    expect(payloadOf(again!)).toEqual({ id_project: projectId, n: 2 });
    await barrier(t, { afterRetries: 1 });
    expect(hook.received.slice(postsBefore).map((request) => payloadOf(request).n)).toEqual([2]);
  });
});

describe('secret rotation', () => {
  test('a second rotation within the 24 h overlap: the newest and the one it replaced sign, the first no longer', async () => {
    const projectId = 'rb-rotate-twice';
    const hook = await receiver();
    const created = await subscribe(t, projectId, 'lead.create', hook.url);
    const rotate = async (): Promise<string> => {
      const reply = await t.api('POST', `/${projectId}/subscriptions/${created._id}/rotate-secret`, { token: owner(projectId) });
      expect(reply.status).toBe(200);
      return String(reply.body.secret);
    };
    const second = await rotate();
    const third = await rotate();
    expect(new Set([created.secret, second, third]).size).toBe(3);

    await publish(t, [{ type: 'lead.create', detail: { id_project: projectId } }]);
    const [request] = await hook.waitFor(1);
    const headers = headersOf(request!);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(headers['x-hook-secret']).toBe(third);
    expect(() => new Webhook(third).verify(request!.body, headers)).not.toThrow();
    expect(() => new Webhook(second).verify(request!.body, headers)).not.toThrow();
    expect(() => new Webhook(created.secret).verify(request!.body, headers)).toThrow();
  });
});

describe('Retry-After, end to end', () => {
  test('as an HTTP date: the retry is planned for that date and not sent before it', async () => {
    const projectId = 'rb-retry-after-date';
    let retryAt = new Date();
    const hook = await receiver((index) => {
      if (index > 0) return { status: 200 };
      retryAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000);
      return { status: 503, headers: { 'retry-after': retryAt.toUTCString() } };
    });
    const created = await subscribe(t, projectId, 'group.update', hook.url);
    await publish(t, [{ type: 'group.update', detail: { id_project: projectId } }]);

    const requests = await hook.waitFor(2);
    const logs = await eventually(async () => {
      const found = await logsOf(t, projectId, created._id);
      expect(found.map((log) => log.outcome)).toEqual(['failed', 'delivered']);
      return found;
    });
    // Planned for the date (whole seconds), and the retry came no earlier than a second before it.
    expect(Math.abs(Date.parse(logs[0]!.nextAttemptAt!) - retryAt.getTime())).toBeLessThanOrEqual(1500);
    expect(requests[1]!.at).toBeGreaterThanOrEqual(retryAt.getTime() - 1000);
  });

  test('above the maximum: the retry is planned 12 h out, and nothing is sent meanwhile', async () => {
    const projectId = 'rb-retry-after-max';
    const hook = await receiver(() => ({ status: 429, headers: { 'retry-after': '999999' } }));
    const created = await subscribe(t, projectId, 'group.delete', hook.url);
    await publish(t, [{ type: 'group.delete', detail: { id_project: projectId } }]);
    await hook.waitFor(1);

    const [failed] = await eventually(async () => {
      const found = await logsOf(t, projectId, created._id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(failed).toMatchObject({ outcome: 'failed', statusCode: 429 });
    const plannedSeconds = (Date.parse(failed!.nextAttemptAt!) - Date.parse(failed!.attemptedAt)) / 1000;
    expect(Math.abs(plannedSeconds - 12 * 3600)).toBeLessThanOrEqual(2);
    await barrier(t, { afterRetries: 1 });
    expect(hook.received).toHaveLength(1);
  });
});

describe('a target that turns private at delivery time', () => {
  test('is refused when delivering: nothing reaches it, the attempts say why, and it ends dead', async () => {
    const projectId = 'rb-rebinding';
    const hook = await receiver();
    const port = new URL(hook.url).port;
    // Created while the name resolves to loopback (allowed locally), as a public address would on AWS.
    const created = await subscribe(t, projectId, 'faq.delete', `http://${REBINDING_HOST}:${port}/hook`);

    // Now it answers loopback and a private address: one denied address refuses the host.
    rebindingAnswer = [
      { address: '127.0.0.1', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
    await publish(t, [{ type: 'faq.delete', detail: { id_project: projectId } }]);

    const logs = await eventually(async () => {
      const found = await logsOf(t, projectId, created._id);
      expect(found.map((log) => log.outcome)).toEqual(['failed', 'dead']);
      return found;
    }, 30_000);
    for (const log of logs) {
      expect(log).toMatchObject({ errorKind: 'refused' });
      // Named as refused, without the address it resolved to (no DNS oracle for the caller).
      expect(log.error?.startsWith(`target ${UNREACHABLE_TARGET}`)).toBe(true);
      expect(log.error).not.toContain('10.0.0.5');
      expect(log.statusCode).toBeUndefined();
    }
    await barrier(t);
    expect(hook.received).toHaveLength(0);
  });
});

describe('the uniqueness guard', () => {
  const documents = (): DynamoDBDocumentClient => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: t.stack.awsEndpoint }));

  /** The id of a create that crashed after claiming its guard: its item was never written. */
  const CRASHED_CREATE_ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';

  /** Leaves a guard for (event, target) as a create that crashed between its writes would. */
  async function leaveGuard(projectId: string, event: string, target: string, claimedAt: number): Promise<void> {
    // Imported once the stack set the environment: the adapter builds its client at import.
    const { subscriptionKeys } = await import('../../lambdas/adapters/subscription-store');
    await documents().send(
      new PutCommand({
        TableName: t.stack.tableName,
        Item: {
          [TABLE_KEYS.partitionKey]: subscriptionKeys.project(projectId),
          [TABLE_KEYS.sortKey]: subscriptionKeys.guard(event, target),
          subscriptionId: CRASHED_CREATE_ID,
          claimedAt,
        },
      }),
    );
  }

  test('a guard left by a crash over a minute ago is taken over by the next create', async () => {
    const projectId = 'rb-guard-old';
    const target = 'http://127.0.0.1:9/guarded';
    await leaveGuard(projectId, 'lead.create', target, Date.now() - 5 * 60_000);

    const reply = await t.api('POST', `/${projectId}/subscriptions`, { token: owner(projectId), body: { event: 'lead.create', target } });
    expect(reply.status).toBe(200);
    expect(reply.body._id).not.toBe(CRASHED_CREATE_ID);
    // The taken-over guard now belongs to the new subscription: the same create again is
    // answered with it (idempotent), and it is the project's only one.
    const again = await t.api('POST', `/${projectId}/subscriptions`, { token: owner(projectId), body: { event: 'lead.create', target } });
    expect(again.status).toBe(200);
    expect(again.body._id).toBe(reply.body._id);
    const listed = await t.api('GET', `/${projectId}/subscriptions`, { token: owner(projectId) });
    expect((listed.body as unknown as { _id: string }[]).map((subscription) => subscription._id)).toEqual([reply.body._id]);
  });

  test('a younger guard belongs to a create still in flight: its rival gets 409', async () => {
    const projectId = 'rb-guard-young';
    const target = 'http://127.0.0.1:9/guarded';
    await leaveGuard(projectId, 'lead.create', target, Date.now() - 5_000);

    const reply = await t.api('POST', `/${projectId}/subscriptions`, { token: owner(projectId), body: { event: 'lead.create', target } });
    expect(reply.status).toBe(409);
    const listed = await t.api('GET', `/${projectId}/subscriptions`, { token: owner(projectId) });
    expect(listed.body).toEqual([]);
  });
});
