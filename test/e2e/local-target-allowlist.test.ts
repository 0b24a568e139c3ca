import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { UNREACHABLE_TARGET } from '../../lambdas/core/target-policy';

const ROOT = join(__dirname, '..', '..');

/** `npm start` as a user runs it (bin/local.ts through tsx), on free ports, with `env` added. */
async function startLocalProcess(env: Record<string, string>): Promise<{ child: ChildProcess; apiUrl: string; token: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'local.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', AWS_PORT: '0', POWERTOOLS_LOG_LEVEL: 'SILENT', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = new Promise<{ apiUrl: string; token: string }>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const apiUrl = /^\s+API\s+(\S+)/m.exec(output)?.[1];
      const token = /export TOKEN=(\S+)/.exec(output)?.[1];
      if (apiUrl && token) resolve({ apiUrl, token });
    });
    child.once('exit', (code) => reject(new Error(`local stack exited with ${code}:\n${output}`)));
  });
  return { child, ...(await ready) };
}

describe('TARGET_ALLOWLIST= (set but empty) on the local stack', () => {
  let local: Awaited<ReturnType<typeof startLocalProcess>> | undefined;

  beforeAll(async () => {
    local = await startLocalProcess({ TARGET_ALLOWLIST: '', PROJECT_ID: 'allowlist-project', JWT_SECRET: 'allowlist-test-secret' });
  }, 60_000);

  afterAll(async () => {
    if (!local || local.child.exitCode !== null) return;
    const exited = once(local.child, 'exit');
    local.child.kill('SIGINT');
    await exited;
  }, 30_000);

  it('means no exceptions, as on AWS: a loopback target is refused', async () => {
    const { apiUrl, token } = local!;
    const response = await fetch(`${apiUrl}/allowlist-project/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'request.create', target: 'http://127.0.0.1:9/hook' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      errors: [{ field: 'target', message: UNREACHABLE_TARGET }],
    });
  });
});
