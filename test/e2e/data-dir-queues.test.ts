// With DATA_DIR, the local stack keeps its queues as well as its table: a retry waiting in the
// delivery queue when the stack stops is still there after a restart, and is delivered.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { LoggedAttempt, eventually, logsOf, publish, subscribe } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';

let dataDir: string;
let hook: Receiver;
let failing = true;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'tiledesk-webhooks-data-'));
  hook = await startReceiver(() => (failing ? { status: 503 } : { status: 200 }));
});

afterAll(async () => {
  await hook?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A free loopback port: the handlers keep their SDK clients for the life of the process, so the
 *  restarted stack must answer where the first one did. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

it('delivers after a restart a retry that was waiting when the stack stopped', async () => {
  const projectId = 'p-data-dir';
  const awsPort = await freePort();
  const first: TestStack = await startTestStack({ dataDir, retrySchedule: [4], awsPort });
  const { _id } = await subscribe(first, projectId, 'request.create', hook.url);
  await publish(first, [{ type: 'request.create', detail: { id_project: projectId, kept: true } }]);
  await eventually(async () => expect(await logsOf(first, projectId, _id)).toHaveLength(1));
  await first.stop();

  failing = false;
  // The authorizer keeps the secret it read first: the restarted stack is asked with the first one's tokens.
  const t = await startTestStack({ dataDir, retrySchedule: [4], awsPort });
  const token = first.tokenFor({ [projectId]: 'owner' });
  try {
    const logs = await eventually(async () => {
      const reply = await t.api('GET', `/${projectId}/subscriptions/${_id}/logs`, { token });
      const found = ((reply.body.items as LoggedAttempt[] | undefined) ?? []).slice().reverse();
      expect(found.at(-1)?.outcome).toBe('delivered');
      return found;
    }, 30_000);
    expect(logs.map((attempt) => [attempt.attempt, attempt.outcome])).toEqual([
      [1, 'failed'],
      [2, 'delivered'],
    ]);
    expect(hook.received).toHaveLength(2);
  } finally {
    await t.stop();
  }
}, 60_000);
