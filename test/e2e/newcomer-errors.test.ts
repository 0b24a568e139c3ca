import { ChildProcess, spawn } from 'node:child_process';
import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { REPO_ROOT } from '../support/npm-run';
import { eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { markedEnv, markedProcesses, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * The mistakes a newcomer makes in the first minutes, and the words that say how to fix them:
 * an `https://` target on a plain-HTTP receiver, and a receiver started with another
 * subscription's secret.
 */
let t: TestStack;
let plainHttp: Server;
let receiver: { child: ChildProcess; marker: string; output: () => string; port?: string; secret: string } | undefined;
const PROJECT = 'newcomer';

beforeAll(async () => {
  t = await startTestStack({ retrySchedule: [60] });
  plainHttp = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end('ok')));
  await new Promise<void>((resolve) => plainHttp.listen(0, '127.0.0.1', () => resolve()));
});
afterAll(async () => {
  if (receiver) {
    process.kill(-receiver.child.pid!, 'SIGTERM');
    await waitForNoMarkedProcess(receiver.marker).catch(() => undefined);
    for (const leftover of markedProcesses(receiver.marker)) process.kill(leftover.pid, 'SIGKILL');
  }
  plainHttp.closeAllConnections();
  await new Promise((resolve) => plainHttp.close(resolve));
  await t.stop();
});

const owner = (): string => t.tokenFor({ [PROJECT]: 'owner' });

test('an https target answered in plain HTTP: the test ping and the attempt log ask whether it speaks HTTPS', async () => {
  const port = (plainHttp.address() as AddressInfo).port;
  const subscription = await subscribe(t, PROJECT, 'request.create', `https://127.0.0.1:${port}/hook`);
  const ping = await t.api('POST', `/${PROJECT}/subscriptions/${subscription._id}/test`, { token: owner() });
  expect(ping.status).toBe(200);
  expect(ping.body).toMatchObject({ outcome: 'failed', errorKind: 'network', error: expect.stringMatching(/^TLS handshake failed — does the target speak HTTPS\?/) });
  expect(String(ping.body.error)).not.toMatch(/ssl3_get_record|wrong version number:/);

  await publish(t, [{ type: 'request.create', detail: { id_project: PROJECT, request_id: 'tls-1' } }]);
  const [first] = await eventually(async () => {
    const attempts = (await logsOf(t, PROJECT, subscription._id)).filter((attempt) => !attempt.webhookId.startsWith('msg_test_'));
    expect(attempts).toHaveLength(1);
    return attempts;
  });
  expect(first!.error).toMatch(/^TLS handshake failed — does the target speak HTTPS\?/);
});

test("a receiver started with another subscription's secret answers 401 naming the subscription it was sent for", async () => {
  const marked = markedEnv();
  const first = await subscribe(t, PROJECT, 'request.update', 'http://127.0.0.1:9/elsewhere');
  const child = spawn('npm', ['run', '-s', 'receiver', '--', '--secret', first.secret, '--port', '0'], { cwd: REPO_ROOT, env: marked.env, detached: true });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  receiver = { child, marker: marked.marker, output: () => output, secret: first.secret };
  const banner = await eventually(() => {
    const match = /receiver on http:\/\/127\.0\.0\.1:(\d+)\/hook — it answers on every path/.exec(output);
    expect(match).not.toBeNull();
    return match!;
  });
  receiver.port = banner[1];

  const second = await subscribe(t, PROJECT, 'request.create', `http://127.0.0.1:${banner[1]}/hook`);
  const ping = await t.api('POST', `/${PROJECT}/subscriptions/${second._id}/test`, { token: owner() });
  expect(ping.body).toMatchObject({ outcome: 'failed', statusCode: 401 });
  expect(ping.body.responseBody).toContain(`the secret given with --secret is not the one of subscription ${second._id}`);
  expect(output).toContain(`REJECTED POST /hook: No matching signature found: the secret given with --secret is not the one of subscription ${second._id}`);
});

test('the receiver prints a verified request that is not a Tiledesk webhook, and stays up', async () => {
  expect(receiver?.port).toBeDefined();
  const signer = new Webhook(receiver!.secret);
  const post = async (id: string, body: string) => {
    const at = new Date();
    const response = await fetch(`http://127.0.0.1:${receiver!.port}/hook`, {
      method: 'POST',
      headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signer.sign(id, at, body) },
      body,
    });
    return response.status;
  };
  expect(await post('msg_by_hand_1', '{"hello":1}')).toBe(200);
  // The verifier (standardwebhooks) refuses a body that is not JSON: 401, and the receiver goes on.
  expect(await post('msg_by_hand_2', 'not json')).toBe(401);
  expect(await post('msg_by_hand_3', '[1,2]')).toBe(200);
  await eventually(() => {
    expect(receiver!.output()).toContain('verified msg_by_hand_1 (no hook.event) {"hello":1}');
    expect(receiver!.output()).toContain('verified msg_by_hand_3 (no hook.event) [1,2]');
  });
  expect(receiver!.child.exitCode).toBeNull();
});
