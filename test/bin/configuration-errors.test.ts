import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LOCK_FILE } from '../../local/data-dir-lock';
import { NpmResult, REPO_ROOT, runNpm } from '../support/npm-run';
import { isListening, markedEnv, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * Every configuration mistake ends the command with one line on stderr that names the setting
 * and the fix, a non-zero exit code, and no process left running.
 */
async function runMarked(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<NpmResult> {
  const marked = markedEnv({ PORT: '0', AWS_PORT: '0', ...env });
  const result = await runNpm(script, args, marked.env);
  expect(await waitForNoMarkedProcess(marked.marker)).toEqual([]);
  return result;
}

function expectOneLine(result: NpmResult, pattern: RegExp, code = 2): void {
  expect(result.code).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}

describe('npm start', () => {
  test.each([
    [{ PORT: '-1' }, /^PORT=-1 is not valid: use a port number from 0 to 65535 \(0 picks a free port\)$/],
    [{ AWS_PORT: 'http://x' }, /^AWS_PORT=http:\/\/x is not valid: use a port number/],
    [{ RETRY_SCHEDULE: 'abc' }, /^RETRY_SCHEDULE=abc is not valid: use comma-separated whole seconds, e\.g\. 5,300,/],
    [{ RETRY_SCHEDULE: '5,-1' }, /^RETRY_SCHEDULE=5,-1 is not valid: use comma-separated whole seconds/],
    [{ DELIVERY_TIMEOUT_MS: '90000' }, /^DELIVERY_TIMEOUT_MS must be whole milliseconds from 1 to 50000 \(.*\); got 90000$/],
    [{ OPERATOR_SELECT_TIMEOUT_MS: 'soon' }, /^OPERATOR_SELECT_TIMEOUT_MS=soon is not valid: use whole milliseconds/],
    [{ TARGET_ALLOWLIST: '10.0.0.0/99' }, /^TARGET_ALLOWLIST=10\.0\.0\.0\/99 is not valid: use comma-separated CIDRs and host names/],
    [{ PORT: '4000', AWS_PORT: '4000' }, /^PORT and AWS_PORT are both 4000: give them different ports/],
    [{ TILEDESK_GLOBAL_SECRET: 'g' }, /^TILEDESK_INGEST_HOOK_SECRET is required when Tiledesk ingest is enabled \(TILEDESK_GLOBAL_SECRET is set\)/],
    [{ PROJECT_API_LIMIT: 'lots' }, /^PROJECT_API_LIMIT=lots is not valid: use <requests per second>\[,<burst>\]/],
    [{ TILEDESK_INGEST_SOURCE_ALLOWLIST: 'tiledesk.example' }, /^TILEDESK_INGEST_SOURCE_ALLOWLIST=tiledesk\.example is not valid: use comma-separated CIDRs/],
    [
      { TILEDESK_GLOBAL_PUBLIC_KEY: 'notapem', TILEDESK_INGEST_HOOK_SECRET: 'h' },
      /^TILEDESK_GLOBAL_PUBLIC_KEY is not a usable public key \(not a PEM public key\): give the PEM/,
    ],
    [{ TILEDESK_API_URL: 'https://tiledesk.example', TILEDESK_JWT_PUBLIC_KEY: 'notapem' }, /^TILEDESK_JWT_PUBLIC_KEY is not a usable public key/],
    [{ TILEDESK_JWT_SECRET: 'tiledesk-global-secret' }, /^TILEDESK_API_URL is required when TILEDESK_JWT_SECRET is set/],
  ])('%o is refused in one line', async (env, pattern) => {
    expectOneLine(await runMarked('start', [], env), pattern);
  });

  test.each(['PORT', 'AWS_PORT'])('%s in use is refused in one line, and the emulators already started stop', async (name) => {
    const { port, server } = await occupyPort();
    try {
      const result = await runMarked('start', [], { [name]: String(port) });
      expectOneLine(result, new RegExp(`^${name}=${port} is in use by another process: stop it, or set ${name} to a free port \\(0 picks one\\)$`));
    } finally {
      server.close();
    }
  });

  test('both ports in use (another npm start, most likely) are named in one line', async () => {
    const [api, aws] = [await occupyPort(), await occupyPort()];
    try {
      const result = await runMarked('start', [], { PORT: String(api.port), AWS_PORT: String(aws.port) });
      expectOneLine(
        result,
        new RegExp(`^AWS_PORT=${aws.port} and PORT=${api.port} are in use by other processes \\(another npm start\\?\\): stop them, or set both to free ports`),
      );
    } finally {
      api.server.close();
      aws.server.close();
    }
  });

  test('a DATA_DIR that is a file is refused in one line', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tiledesk-data-'));
    const file = path.join(dataDir, 'not-a-folder');
    writeFileSync(file, '');
    expectOneLine(await runMarked('start', [], { DATA_DIR: file }), new RegExp(`^DATA_DIR=${file} cannot hold the data: .*; choose a folder you can write$`));
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a second stack on the same DATA_DIR is refused in one line; the first keeps running', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tiledesk-data-'));
    const first = await startNpmStart({ DATA_DIR: dataDir });
    try {
      const second = await runMarked('start', [], { DATA_DIR: dataDir });
      expectOneLine(second, new RegExp(`^DATA_DIR ${dataDir} is in use by another local stack \\(pid ${first.stackPid()}\\): stop that one first, or give this one another DATA_DIR$`));
      expect(await isListening(first.apiPort)).toBe(true);
    } finally {
      process.kill(first.npm.pid!, 'SIGTERM');
      await first.exited;
    }
    expect(await waitForNoMarkedProcess(first.marker)).toEqual([]);
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('command-line tools', () => {
  test('npm run token -- --ttl -5 names the option and the fix', async () => {
    expectOneLine(
      await runMarked('token', ['--project', 'p1', '--ttl', '-5']),
      /^--ttl must be a positive whole number of seconds, e\.g\. --ttl 3600; got -5$/,
    );
  });

  test('npm run token -- --secret-arn with something that is no ARN', async () => {
    expectOneLine(await runMarked('token', ['--project', 'p1', '--secret-arn', 'my-secret']), /^--secret-arn must be the stack's JwtSecretArn output/);
  });

  test('npm run receiver with a placeholder secret says so', async () => {
    expectOneLine(
      await runMarked('receiver', ['--secret', 'whsec_…', '--port', '0']),
      /^--secret must be the subscription's secret exactly as the API returned it .*a placeholder: paste the subscription's own secret$/,
    );
  });

  test('npm run receiver with its options but no -- says to add --', async () => {
    // npm keeps options before `--` for itself: the receiver sees only their values.
    const marked = markedEnv();
    const result = await new Promise<NpmResult>((resolve, reject) => {
      const child = spawn('npm', ['run', '-s', 'receiver', '--secret', `whsec_${Buffer.alloc(24, 7).toString('base64')}`, '--port', '0'], {
        cwd: REPO_ROOT,
        env: marked.env,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(await waitForNoMarkedProcess(marked.marker)).toEqual([]);
    expectOneLine(result, /^npm kept --secret, --port for itself: add -- before the command's options, e\.g\. npm run receiver -- --secret …$/);
  });

  test('npm run exports given an error answer says what the API said, in one line', async () => {
    const marked = markedEnv();
    const result = await new Promise<NpmResult>((resolve, reject) => {
      const child = spawn('npm', ['run', '-s', 'exports'], { cwd: REPO_ROOT, env: marked.env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      child.stdin.end('{"success":false,"msg":"Forbidden: this token may not manage project demo-project"}');
    });
    expect(await waitForNoMarkedProcess(marked.marker)).toEqual([]);
    expectOneLine(result, /^no subscription in that answer: the API said “Forbidden: this token may not manage project demo-project”$/);
    expect(result.stdout).toContain('"success":false');
  });

  test('npm run receiver on a port in use is one line', async () => {
    const { port, server } = await occupyPort();
    try {
      const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
      expectOneLine(
        await runMarked('receiver', ['--secret', secret, '--port', String(port)]),
        new RegExp(`^--port ${port} is in use: is another receiver still running\\? Stop it \\(a subscription's target names its port\\), or choose another port \\(0 picks a free one\\)$`),
      );
    } finally {
      server.close();
    }
  });

  test('an unknown option is one line', async () => {
    expectOneLine(await runMarked('receiver', ['--secrett', 'x']), /^Unknown option '--secrett'.*\(--help shows the usage\)$/);
  });

  test.each(['receiver', 'token', 'redrive-dlq', 'replay-rule-dlq'])('npm run %s -- --help prints the usage and exits 0', async (script) => {
    const result = await runMarked(script, ['--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^Usage: npm run ${script} -- `));
  });

  test('npm run replay-rule-dlq without --dlq-url names it', async () => {
    expectOneLine(await runMarked('replay-rule-dlq', []), /^--dlq-url is required: the stack output EventRuleDlqUrl/);
  });
});
