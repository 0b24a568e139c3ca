import { signToken } from '../../lambdas/core/token';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { LoggedAttempt, barrier, eventually, publish } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

/**
 * Runs the whole service — API, fan-out, delivery with a retry that dies, a secret rotation, a
 * test ping, refused tokens — with every log level on, captures everything the process prints,
 * and checks that no signing secret and no token ever reaches the output.
 *
 * Powertools Logger (outside POWERTOOLS_DEV) prints through its own `new Console({stdout:
 * process.stdout, stderr: process.stderr})`, so spying on the two streams' `write` catches it;
 * `console.*` is spied on as well for anything printed through the global console. (The SQS
 * emulator's child process writes its stderr straight to the inherited descriptor, outside
 * this process; it never sees a subscription's secret.)
 */

const PROJECT = 'proj-logs';
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

const CANARY = `canary-${Date.now().toString(36)}`;

const captured: string[] = [];
const spies: jest.SpyInstance[] = [];

/** Everything printed so far, as one text. */
const output = (): string => captured.join('\n');

function capture(chunk: unknown): void {
  captured.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
}

function startCapture(): void {
  const swallow = ((chunk: unknown) => {
    capture(chunk);
    return true;
  }) as typeof process.stdout.write;
  spies.push(jest.spyOn(process.stdout, 'write').mockImplementation(swallow));
  spies.push(jest.spyOn(process.stderr, 'write').mockImplementation(swallow));
  for (const method of CONSOLE_METHODS) {
    spies.push(
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        capture(args.map(printable).join(' '));
      }),
    );
  }
}

/** A console argument as text: errors with their stack and fields, objects as JSON. */
function printable(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  if (arg instanceof Error) return `${arg.stack} ${JSON.stringify(arg)}`;
  try {
    return JSON.stringify(arg) ?? String(arg);
  } catch {
    return String(arg);
  }
}

let t: TestStack;
const receivers: Receiver[] = [];

/** Every secret and token the run handles; none may appear in the output. */
const secrets = new Set<string>();
const tokens = new Set<string>();

function rememberSecret(secret: unknown): string {
  expect(String(secret)).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
  const value = String(secret);
  secrets.add(value);
  return value;
}

function rememberToken(token: string): string {
  tokens.add(token);
  return token;
}

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  startCapture();
  t = await startTestStack({ retrySchedule: [1], deliveryTimeoutMs: 1000, functionThread: false });
});

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await t.stop();
  for (const spy of spies) spy.mockRestore();
});

async function receiver(status: number): Promise<Receiver> {
  const started = await startReceiver(() => ({ status, body: status === 200 ? 'ok' : 'down' }));
  receivers.push(started);
  return started;
}

describe('log output of a full run', () => {
  test('the run: subscribe, deliver, rotate, fail to the DLQ, test ping, refused tokens', async () => {
    const owner = rememberToken(t.tokenFor({ [PROJECT]: 'owner' }, 'owner-user'));
    const admin = rememberToken(t.tokenFor({ [PROJECT]: 'admin' }, 'admin-user'));
    const agent = rememberToken(t.tokenFor({ [PROJECT]: 'agent' }, 'agent-user'));
    const platform = rememberToken(t.platformToken());
    const healthy = await receiver(200);
    const failing = await receiver(500);

    const subscribe = async (event: string, target: string): Promise<{ _id: string; secret: string }> => {
      const reply = await t.api('POST', `/${PROJECT}/subscriptions`, { token: owner, body: { event, target } });
      expect(reply.status).toBe(200);
      return reply.body as unknown as { _id: string; secret: string };
    };
    const good = await subscribe('request.create', healthy.url);
    const firstSecret = rememberSecret(good.secret);
    const bad = await subscribe('lead.create', failing.url);
    rememberSecret(bad.secret);
    const viaAdmin = await t.api('POST', `/${PROJECT}/subscriptions`, {
      token: admin,
      body: { event: 'event.emit.typing.start', target: healthy.url },
    });
    expect(viaAdmin.status).toBe(200);
    rememberSecret(viaAdmin.body.secret);
    expect(rememberSecret(viaAdmin.headers.get('x-hook-secret'))).toBe(viaAdmin.body.secret);

    // A delivery that succeeds.
    await publish(t, [{ type: 'request.create', detail: { id_project: PROJECT, request_id: 'r1' } }]);
    await healthy.waitFor(1);

    // Rotate: the next delivery is signed with both the new and the previous secret.
    const rotated = await t.api('POST', `/${PROJECT}/subscriptions/${good._id}/rotate-secret`, { token: owner });
    expect(rotated.status).toBe(200);
    const secondSecret = rememberSecret(rotated.body.secret);
    expect(secondSecret).not.toBe(firstSecret);
    await publish(t, [{ type: 'request.create', detail: { id_project: PROJECT, request_id: 'r2' } }]);
    const [, second] = await healthy.waitFor(2);
    expect(String(second!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(second!.headers['x-hook-secret']).toBe(secondSecret);

    // A delivery that fails, is retried once after 1 s and dies into the DLQ.
    await publish(t, [{ type: 'lead.create', detail: { id_project: PROJECT, email: 'lead@example.com' } }]);
    await failing.waitFor(2);
    await eventually(async () => {
      const reply = await t.api('GET', `/${PROJECT}/subscriptions/${bad._id}/logs`, { token: owner });
      const logs = (reply.body.items as LoggedAttempt[]).slice().reverse();
      expect(logs.map((log) => log.outcome)).toEqual(['failed', 'dead']);
    });

    // Test pings, one answered and one refused by the target.
    const pinged = await t.api('POST', `/${PROJECT}/subscriptions/${good._id}/test`, { token: owner });
    expect(pinged.status).toBe(200);
    expect(pinged.body.outcome).toBe('delivered');
    const pingFailed = await t.api('POST', `/${PROJECT}/subscriptions/${bad._id}/test`, { token: admin });
    expect(pingFailed.status).toBe(200);
    expect(pingFailed.body.outcome).toBe('failed');

    // Reads, a change, a refused body and an operator.select call.
    expect((await t.api('GET', `/${PROJECT}/subscriptions`, { token: owner })).status).toBe(200);
    expect((await t.api('GET', `/${PROJECT}/subscriptions/${good._id}`, { token: owner })).status).toBe(200);
    expect((await t.api('GET', `/${PROJECT}/subscriptions/history`, { token: owner })).status).toBe(200);
    expect((await t.api('PUT', `/${PROJECT}/subscriptions/${bad._id}`, { token: owner, body: { status: 'disabled' } })).status).toBe(200);
    expect((await t.api('POST', `/${PROJECT}/subscriptions`, { token: owner, body: { event: 'nope', target: 1 } })).status).toBe(400);
    const selected = await t.api('POST', `/${PROJECT}/operator-select`, {
      token: platform,
      body: { id_project: PROJECT, operators: [{ id_user: 'u1' }], agents: [], available_agents: [], department: {} },
    });
    expect(selected.status).toBeLessThan(500);

    // Refused tokens: wrong key, expired, garbage, no right on the project, none at all.
    const wrongKey = rememberToken(signToken({ sub: 'intruder', projects: { [PROJECT]: 'owner' } }, 'not-the-secret'));
    const expired = rememberToken(signToken({ sub: 'late', projects: { [PROJECT]: 'owner' } }, t.jwtSecret, -60));
    for (const token of [wrongKey, expired, 'not.a.jwt', `${owner}x`]) {
      const refused = await t.api('GET', `/${PROJECT}/subscriptions`, { token });
      expect(refused.status).toBe(401);
    }
    expect((await t.api('GET', `/${PROJECT}/subscriptions`, { token: agent })).status).toBe(403);
    expect((await t.api('GET', `/${PROJECT}/subscriptions`, { token: null })).status).toBe(401);
    const jwtScheme = await fetch(`${t.stack.apiUrl}/${PROJECT}/subscriptions`, { headers: { authorization: `JWT ${wrongKey}` } });
    expect(jwtScheme.status).toBe(401);

    // A barrier: the deliveries before it have finished and printed their logs.
    await barrier(t);

    // A known value logged through the service's own logger (the instance the handlers use),
    // at a level printed on stdout and one printed on stderr: the capture must see both.
    const { logger } = await import('../../lambdas/adapters/observability');
    logger.debug('capture check', { canary: `${CANARY}-debug` });
    logger.error('capture check', { canary: `${CANARY}-error` });
  });

  test('the capture saw the service log, at DEBUG and INFO', () => {
    const lines = output();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines).toMatch(/"level":"DEBUG"/);
    expect(lines).toMatch(/"level":"INFO"/);
    expect(lines).toContain(`${CANARY}-debug`);
    expect(lines).toContain(`${CANARY}-error`);
    // The messages of this run, so the capture is known to cover the API, fan-out and delivery.
    expect(lines).toContain('subscription created');
    expect(lines).toContain('secret rotated');
    expect(lines).toContain('event fanned out');
    // At DEBUG every attempt is a line (README: a delivery that succeeds logs nothing at INFO).
    expect(lines).toMatch(/"message":"delivery attempt".*"outcome":"delivered"/);
    expect(lines).toContain('delivery dead-lettered');
    expect(lines).toContain('token refused');
  });

  test('no secret, old or new, appears in the output, whole or as its base64 key', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(4);
    const lines = output();
    for (const secret of secrets) {
      const key = secret.slice('whsec_'.length);
      const keyBytes = Buffer.from(key, 'base64');
      for (const form of [secret, key, keyBytes.toString('base64url'), keyBytes.toString('hex')]) {
        expect({ secret, found: lines.includes(form) }).toEqual({ secret, found: false });
      }
    }
  });

  test('no token used, nor its signature, nor the signing secret, appears in the output', () => {
    expect(tokens.size).toBeGreaterThanOrEqual(6);
    const lines = output();
    for (const token of tokens) {
      const signature = token.split('.')[2] ?? token;
      expect({ token, found: lines.includes(token) }).toEqual({ token, found: false });
      expect({ token, signatureFound: lines.includes(signature) }).toEqual({ token, signatureFound: false });
    }
    expect(lines.includes(t.jwtSecret)).toBe(false);
  });
});
