import jwt from 'jsonwebtoken';
import { Webhook } from 'standardwebhooks';
import type { Attempt } from '../../lambdas/core/attempt';
import { expectFieldError, hookOf } from '../support/api-expectations';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { publish } from '../support/pipeline';
import { ReceivedRequest, Receiver, startReceiver } from '../support/receiver';

/*
 * Tiledesk's own clients and receivers, unchanged, against the local stack: the connectors'
 * subscription client, a receiver that checks `token` as Tiledesk receivers do, and the
 * dashboard's history paging.
 */

let t: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
});

async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

/**
 * What tiledesk-whatsapp-connector's `tiledesk/TiledeskSubscriptionClient.js` does: the
 * token as given (`JWT …`) in Authorization, and anything but a 200 with a body is an error.
 */
class ConnectorSubscriptionClient {
  constructor(
    private readonly apiUrl: string,
    private readonly projectId: string,
    private readonly token: string,
  ) {}

  subscribe(info: { target: string; event: string }): Promise<Record<string, unknown>> {
    return this.request('POST', `/${this.projectId}/subscriptions`, info);
  }

  unsubscribe(subscriptionId: string): Promise<Record<string, unknown>> {
    return this.request('DELETE', `/${this.projectId}/subscriptions/${subscriptionId}`);
  }

  private async request(method: string, path: string, json?: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: this.token },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await response.text();
    const data = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    if (response.status == 200 && data) return data;
    throw new Error('Response status not 200');
  }
}

/** How a Tiledesk receiver checks a webhook: `jwt.verify` of `token` with the subscription's secret. */
function verifyAsTiledeskReceiver(body: string, secret: string): jwt.JwtPayload & Record<string, unknown> {
  const { hook, token } = JSON.parse(body) as { hook: { _id: string }; token: string };
  return jwt.verify(token, secret, {
    issuer: 'https://tiledesk.com',
    subject: 'subscription',
    audience: `https://tiledesk.com/subscriptions/${hook._id}`,
  }) as jwt.JwtPayload & Record<string, unknown>;
}

function headersOf(request: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
}

describe("the connectors' subscription client", () => {
  test('subscribes (twice: the same subscription and secret), is delivered to, and unsubscribes', async () => {
    const projectId = 'td-connector';
    const client = new ConnectorSubscriptionClient(t.stack.apiUrl, projectId, `JWT ${t.tokenFor({ [projectId]: 'owner' })}`);
    const hook = await receiver();
    const info = { target: hook.url, event: 'message.create.request.channel.whatsapp' };

    const first = await client.subscribe(info);
    const again = await client.subscribe(info);
    expect(first).toMatchObject({ ...info, id_project: projectId, secret: expect.stringMatching(/^whsec_/) });
    expect(again).toEqual(first);
    const listed = await t.api('GET', `/${projectId}/subscriptions`, { token: t.tokenFor({ [projectId]: 'owner' }) });
    expect(listed.body).toHaveLength(1);

    const payload = { id_project: projectId, text: 'ciao', channel: { name: 'chat21' }, request: { channel: { name: 'whatsapp' } } };
    await publish(t, [{ type: 'message.create', detail: payload }]);
    const [request] = await hook.waitFor(1);
    expect(JSON.parse(request!.body)).toMatchObject({ payload });
    expect(verifyAsTiledeskReceiver(request!.body, String(first.secret))).toMatchObject({ _id: first._id });

    const removed = await client.unsubscribe(String(first._id));
    expect(removed).toMatchObject({ _id: first._id, event: info.event });
    await expect(client.unsubscribe(String(first._id))).rejects.toThrow('Response status not 200');
  });

  test('a create answers 200 with the secret in x-hook-secret, as Tiledesk', async () => {
    const projectId = 'td-create';
    const reply = await t.api('POST', `/${projectId}/subscriptions`, {
      token: t.tokenFor({ [projectId]: 'owner' }),
      body: { event: 'request.create', target: 'http://127.0.0.1:9/in' },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-hook-secret')).toBe(reply.body.secret);
  });
});

describe('a receiver written for Tiledesk', () => {
  test('verifies token with jsonwebtoken (issuer, subject, audience) and sees user-agent and origin', async () => {
    const projectId = 'td-receiver';
    const hook = await receiver();
    const client = new ConnectorSubscriptionClient(t.stack.apiUrl, projectId, `JWT ${t.tokenFor({ [projectId]: 'admin' })}`);
    const subscription = await client.subscribe({ target: hook.url, event: 'request.create' });
    const secret = String(subscription.secret);

    const payload = { id_project: projectId, request_id: 'support-group-1', first_text: 'hello' };
    await publish(t, [{ type: 'request.create', detail: payload }]);
    const [request] = await hook.waitFor(1);
    const headers = headersOf(request!);
    const body = JSON.parse(request!.body) as Record<string, unknown>;

    expect(Object.keys(body).sort()).toEqual(['hook', 'payload', 'timestamp', 'token']);
    expect(body.payload).toEqual(payload);
    const { secret: _secret, ...view } = subscription;
    const hookView = hookOf(view);
    expect(body.hook).toEqual(hookView);
    const claims = verifyAsTiledeskReceiver(request!.body, secret);
    expect(claims).toEqual({
      ...hookView,
      iat: Math.floor(Number(body.timestamp) / 1000),
      iss: 'https://tiledesk.com',
      sub: 'subscription',
      aud: `https://tiledesk.com/subscriptions/${String(subscription._id)}`,
    });
    expect(claims).not.toHaveProperty('exp');
    expect(() => verifyAsTiledeskReceiver(request!.body, `${secret}x`)).toThrow(/invalid signature/);

    expect(headers['user-agent']).toBe('tiledesk-webhooks');
    expect(headers.origin).toBe(t.stack.apiUrl);
    expect(headers['x-hook-secret']).toBe(secret);
    expect(() => new Webhook(secret).verify(request!.body, headers)).not.toThrow();
  });

  test('the test ping carries the same token and headers', async () => {
    const projectId = 'td-ping';
    const hook = await receiver();
    const token = t.tokenFor({ [projectId]: 'owner' });
    const created = await t.api('POST', `/${projectId}/subscriptions`, { token, body: { event: 'lead.create', target: hook.url } });
    const secret = String(created.body.secret);

    const ping = await t.api('POST', `/${projectId}/subscriptions/${String(created.body._id)}/test`, { token });
    expect(ping.body.outcome).toBe('delivered');
    const [request] = await hook.waitFor(1);
    expect(verifyAsTiledeskReceiver(request!.body, secret)).toMatchObject({ _id: created.body._id, event: 'lead.create' });
    expect(request!.headers['user-agent']).toBe('tiledesk-webhooks');
    expect(request!.headers.origin).toBe(t.stack.apiUrl);
  });
});

describe('events Tiledesk emits besides the base ones', () => {
  test("message.create.channel.{name}: the message's own channel", async () => {
    const projectId = 'td-channel';
    const hook = await receiver();
    const client = new ConnectorSubscriptionClient(t.stack.apiUrl, projectId, `JWT ${t.tokenFor({ [projectId]: 'owner' })}`);
    await client.subscribe({ target: hook.url, event: 'message.create.channel.chat21' });

    const direct = { id_project: projectId, text: 'direct', channel: { name: 'chat21' } };
    await publish(t, [{ type: 'message.create', detail: direct }]);
    const [request] = await hook.waitFor(1);
    expect(JSON.parse(request!.body)).toMatchObject({ payload: direct, hook: { event: 'message.create.channel.chat21' } });
  });

  test('project_user.update.agent: a project_user.update of an agent only', async () => {
    const projectId = 'td-agent';
    const agents = await receiver();
    const updates = await receiver();
    const client = new ConnectorSubscriptionClient(t.stack.apiUrl, projectId, `JWT ${t.tokenFor({ [projectId]: 'owner' })}`);
    await client.subscribe({ target: agents.url, event: 'project_user.update.agent' });
    await client.subscribe({ target: updates.url, event: 'project_user.update' });

    // A user's update first; once it has reached the base subscriber, an agent's update is the
    // barrier: the agents' subscriber then holds that one alone.
    await publish(t, [{ type: 'project_user.update', detail: { id_project: projectId, roleType: 2, n: 1 } }]);
    await updates.waitFor(1);
    await publish(t, [{ type: 'project_user.update', detail: { id_project: projectId, roleType: 1, n: 2 } }]);
    await updates.waitFor(2);
    const [agentUpdate] = await agents.waitFor(1);
    expect(JSON.parse(agentUpdate!.body)).toMatchObject({ payload: { n: 2 }, hook: { event: 'project_user.update.agent' } });
    expect(agents.received).toHaveLength(1);
  });

  test('project.* and user.signup route by the id_project their payload carries', async () => {
    const projectId = 'td-project';
    const hook = await receiver();
    const client = new ConnectorSubscriptionClient(t.stack.apiUrl, projectId, `JWT ${t.tokenFor({ [projectId]: 'owner' })}`);
    for (const event of ['project.update', 'project.downgrade', 'project.delete', 'user.signup']) {
      await client.subscribe({ target: hook.url, event });
    }
    // Tiledesk sends the project with id_project = its _id; a sign-up carries no project, so
    // the publisher names the one it is meant for.
    await publish(t, [
      { type: 'project.update', detail: { _id: projectId, id_project: projectId, name: 'Renamed' } },
      { type: 'project.downgrade', detail: { _id: projectId, id_project: projectId, profile: { type: 'free' } } },
      { type: 'project.delete', detail: { _id: projectId, id_project: projectId } },
      { type: 'user.signup', detail: { _id: 'u1', email: 'new@example.com', id_project: projectId } },
    ]);
    const received = await hook.waitFor(4);
    const events = received.map((request) => (JSON.parse(request.body) as { hook: { event: string } }).hook.event);
    expect(events.sort()).toEqual(['project.delete', 'project.downgrade', 'project.update', 'user.signup']);
  });

  test('the catalog lists them', async () => {
    const reply = await t.api('GET', '/events');
    const events = (reply.body.events as { event: string }[]).map((entry) => entry.event);
    expect(events).toEqual(
      expect.arrayContaining(['project_user.update.agent', 'project.create', 'project.update', 'project.downgrade', 'project.delete', 'user.signup']),
    );
    expect((reply.body.refinements as { pattern: string }[]).map((entry) => entry.pattern)).toContain('message.create.channel.{name}');
  });
});

describe("the dashboard's history paging (?page=N)", () => {
  const projectId = 'td-history';
  const ATTEMPTS = 45;
  let written: Attempt[];

  beforeAll(async () => {
    // Written through the service's own store: 45 real deliveries would only slow the test;
    // the paging is what is under test.
    const { AttemptLogStore } = await import('../../lambdas/adapters/attempt-log-store');
    const { newLogId } = await import('../../lambdas/core/attempt');
    // The history reads the logs of the project's subscriptions: three, made through the API.
    const subscriptions: string[] = [];
    for (const path of ['a', 'b', 'c']) {
      const created = await t.api('POST', `/${projectId}/subscriptions`, {
        token: t.tokenFor({ [projectId]: 'owner' }),
        body: { event: 'request.create', target: `http://127.0.0.1:9/${path}` },
      });
      expect(created.status).toBe(200);
      subscriptions.push(created.body._id as string);
    }
    // Recent: attempts past their retention (7 days) are not listed (test/e2e/expired-items.test.ts).
    const start = Date.now() - ATTEMPTS * 1000 - 60_000;
    written = Array.from({ length: ATTEMPTS }, (_, n) => {
      const at = new Date(start + n * 1000);
      return {
        logId: newLogId(at),
        projectId,
        subscriptionId: subscriptions[n % 3]!,
        webhookId: `msg_e${n}_${subscriptions[n % 3]}`,
        eventId: `e${n}`,
        event: 'request.create',
        target: 'https://hooks.example.com/in',
        attempt: 1,
        outcome: 'delivered',
        statusCode: 200,
        durationMs: 7,
        attemptedAt: at.toISOString(),
        payload: { id_project: projectId, n },
      } satisfies Attempt;
    });
    await new AttemptLogStore(process.env.TABLE_NAME!).write(written);
  });

  const history = (query: string) =>
    t.api('GET', `/${projectId}/subscriptions/history${query}`, { token: t.tokenFor({ [projectId]: 'owner' }) });

  test('answers plain arrays of 40, newest first, page 0 first', async () => {
    const newestFirst = [...written].reverse();
    const page0 = await history('?page=0');
    const page1 = await history('?page=1');
    const page2 = await history('?page=2');
    expect([page0.status, page1.status, page2.status]).toEqual([200, 200, 200]);
    expect(JSON.parse(page0.text)).toEqual(newestFirst.slice(0, 40));
    expect(JSON.parse(page1.text)).toEqual(newestFirst.slice(40));
    expect(JSON.parse(page2.text)).toEqual([]);
  });

  test('limit and cursor keep the page object', async () => {
    const reply = await history('?limit=5');
    expect(reply.body.items as Attempt[]).toHaveLength(5);
    expect(reply.body.nextCursor).toEqual(expect.any(String));
  });

  test('a bad page or a page mixed with limit is a 400 naming the field', async () => {
    expectFieldError(await history('?page=-1'), 'page');
    expectFieldError(await history('?page=abc'), 'page');
    expectFieldError(await history('?page=0&limit=5'), 'limit');
  });
});
