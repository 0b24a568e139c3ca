import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CodeBlock, codeBlocksOf, sectionOf, shellCommandsOf } from '../support/markdown-blocks';
import { REPO_ROOT } from '../support/npm-run';
import { StartedStack, markedEnv, markedProcesses, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * Runs the README's walk-through as a reader would: each block's commands as written, in order,
 * against `npm start`. Only what a reader fills in is filled in — the ports (free ones here, so
 * the test never collides with a stack already on 3000/4566/8787), the secret and the `_id` from
 * step 1 — and a placeholder left unfilled fails the test. Long-running commands (`npm start`,
 * `npm run receiver`) run in the background, as in their own terminals; the steps the prose asks
 * for ("subscribe again", "publish as above") re-run the commands of the earlier blocks.
 */
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const blocks = codeBlocksOf(sectionOf(README, 'Walk-through: subscribe, publish, receive'));

interface Background {
  child: ChildProcess;
  output: () => string;
  marker: string;
}

let stack: StartedStack | undefined;
let receiver: Background | undefined;
const workDir = mkdtempSync(path.join(tmpdir(), 'walkthrough-'));
/** What the reader has in their shell: the exported variables. */
const shellEnv: Record<string, string> = {};
/** What the reader filled in so far. */
const filled = { secret: '', id: '', receiverPort: '' };

afterAll(async () => {
  for (const marker of [receiver?.marker, stack?.marker]) {
    if (!marker) continue;
    for (const leftover of markedProcesses(marker)) process.kill(leftover.pid, 'SIGKILL');
  }
  rmSync(workDir, { recursive: true, force: true });
});

/** The command as the reader runs it: documented ports and placeholders replaced. */
function fillIn(command: string): string {
  const current = stack!;
  const text = command
    .replaceAll('http://127.0.0.1:3000', `http://127.0.0.1:${current.apiPort}`)
    .replaceAll('http://127.0.0.1:4566', `http://127.0.0.1:${current.awsPort}`)
    .replace(/127\.0\.0\.1:878[78]\b/g, `127.0.0.1:${filled.receiverPort}`)
    .replace(/--port 878[78]\b/g, `--port ${filled.receiverPort}`)
    .replaceAll('whsec_…', filled.secret)
    .replaceAll('<_id>', filled.id);
  expect(text).not.toMatch(/…|<[\w-]+>/);
  return text;
}

/** Runs a command in the reader's shell: in the project folder unless told otherwise. */
function run(command: string, cwd = REPO_ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env: { ...process.env, ...shellEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function runOk(command: string, cwd?: string): Promise<string> {
  const result = await run(command, cwd);
  if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** `export A=1 B=2` as the reader's shell keeps it. */
function applyExport(command: string): void {
  for (const assignment of command.replace(/^export\s+/, '').split(/\s+/)) {
    const [name, ...value] = assignment.split('=');
    shellEnv[name!] = value.join('=');
  }
}

/** Starts `[VAR=value …] npm start` on free ports and takes its printed `export` lines. */
async function startStack(command: string): Promise<void> {
  await stopBackground();
  const assignments = Object.fromEntries(
    command
      .replace(/\s*#.*$/, '')
      .split(/\s+/)
      .filter((word) => /^[A-Z_]+=/.test(word))
      .map((word) => word.split('=') as [string, string]),
  );
  stack = await startNpmStart(assignments);
  for (const line of stack.output().split('\n')) {
    const exported = /^\s+export (TOKEN|PLATFORM_TOKEN)=(\S+)$/.exec(line);
    if (exported) shellEnv[exported[1]!] = exported[2]!;
  }
}

async function startReceiver(command: string): Promise<void> {
  if (receiver) await stopProcessGroup(receiver);
  const marked = markedEnv(shellEnv);
  const child = spawn('bash', ['-c', fillIn(command)], { cwd: REPO_ROOT, env: marked.env, detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  receiver = { child, output: () => output, marker: marked.marker };
  await until(() => output.includes('receiver on http://'), () => `the receiver did not start: ${output}`);
}

async function stopProcessGroup(background: Background): Promise<void> {
  process.kill(-background.child.pid!, 'SIGTERM');
  expect(await waitForNoMarkedProcess(background.marker)).toEqual([]);
}

async function stopBackground(): Promise<void> {
  if (receiver) await stopProcessGroup(receiver);
  receiver = undefined;
  if (stack) {
    process.kill(stack.npm.pid!, 'SIGTERM');
    await stack.exited;
    expect(await waitForNoMarkedProcess(stack.marker)).toEqual([]);
    stack = undefined;
  }
}

async function until(condition: () => boolean | Promise<boolean>, explain: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(explain());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern, 'g'))?.length ?? 0;

async function publishWithSdk(block: CodeBlock): Promise<void> {
  // "npm install @aws-sdk/client-eventbridge" in a folder of its own: here the project's copy.
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(workDir, 'node_modules'));
  writeFileSync(path.join(workDir, 'publish.mjs'), fillIn(block.code));
  expect(await runOk('node publish.mjs', workDir)).toMatch(/EventId: '[0-9a-f-]{36}'/);
}

test('the README walk-through works as written', async () => {
  const [subscribeBlock, cliBlock, sdkBlock, logsBlock, restartBlock, dlqBlock] = blocks;
  expect(blocks.map((block) => block.language)).toEqual(['bash', 'bash', 'js', 'bash', 'bash', 'bash']);
  filled.receiverPort = String(await freePort());
  await startStack('npm start');

  // 1 and 2: subscribe, then run the receiver with the secret from the answer.
  const [subscribe, runReceiver] = shellCommandsOf(subscribeBlock!.code);
  const created = JSON.parse(await runOk(fillIn(subscribe!))) as { _id: string; secret: string; event: string };
  expect(created.event).toBe('request.create');
  filled.secret = created.secret;
  filled.id = created._id;
  await startReceiver(runReceiver!);

  // Publish with the AWS CLI, then with the SDK: the receiver verifies both.
  const cliCommands = shellCommandsOf(cliBlock!.code);
  for (const command of cliCommands) {
    if (command.startsWith('export ')) applyExport(fillIn(command));
    else expect(JSON.parse(await runOk(fillIn(command)))).toMatchObject({ FailedEntryCount: 0 });
  }
  await publishWithSdk(sdkBlock!);
  const verified = new RegExp(`verified msg_[0-9a-f-]+_${created._id} request\\.create`);
  await until(() => count(receiver!.output(), verified) === 2, () => `expected two verified deliveries:\n${receiver!.output()}`);

  const [logs, history] = shellCommandsOf(logsBlock!.code);
  expect(count(await runOk(fillIn(logs!)), /"outcome":"delivered"/)).toBe(2);
  expect(count(await runOk(fillIn(history!)), /"outcome":"delivered"/)).toBe(2);

  // Retries and the DLQ: restart with the short schedule, subscribe again, a failing receiver, publish.
  const [restart, failingReceiver] = shellCommandsOf(restartBlock!.code);
  await startStack(restart!);
  // The exported endpoint named 4566, now this stack's port (the only substitution the reader needs not make).
  shellEnv.AWS_ENDPOINT_URL = `http://127.0.0.1:${stack!.awsPort}`;
  const again = JSON.parse(await runOk(fillIn(subscribe!))) as { _id: string; secret: string };
  filled.secret = again.secret;
  filled.id = again._id;
  await startReceiver(failingReceiver!);
  await runOk(fillIn(cliCommands.find((command) => command.startsWith('aws events'))!));
  await until(
    async () => (await runOk(fillIn(logs!))).includes('"outcome":"dead"'),
    () => `no dead attempt logged:\n${receiver!.output()}`,
  );
  expect(count(receiver!.output(), /answering 500 on purpose/)).toBe(3);

  const [peek, redrive] = shellCommandsOf(dlqBlock!.code).map(fillIn);
  expect(JSON.parse(await runOk(peek!)).Messages).toHaveLength(1);
  expect(await runOk(redrive!)).toContain('COMPLETED: moved 1 message(s) back to the source queue');
  await until(() => count(receiver!.output(), new RegExp(`verified msg_[0-9a-f-]+_${again._id} request\\.create`)) === 1, () => receiver!.output());

  await stopBackground();
});

test("the README's operator.select example answers with the hook's choice", async () => {
  const [block, ...others] = codeBlocksOf(sectionOf(README, 'operator.select: choose the agent'));
  expect(others).toEqual([]);
  const [subscribe, runHook, ask] = shellCommandsOf(block!.code);
  filled.receiverPort = String(await freePort());
  await startStack('npm start');
  const created = JSON.parse(await runOk(fillIn(subscribe!))) as { secret: string; event: string };
  expect(created.event).toBe('operator.select');
  filled.secret = created.secret;
  await startReceiver(runHook!);

  const answer = await runOk(fillIn(ask!));
  expect(answer).toMatch(/^x-operator-select-path: hook\r?$/im);
  expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ operators: [{ id_user: 'u2' }] });

  // "Stop the receiver and ask again": the default routing.
  await stopProcessGroup(receiver!);
  receiver = undefined;
  const fallback = await runOk(fillIn(ask!));
  expect(fallback).toMatch(/^x-operator-select-path: default\r?$/im);
  expect(JSON.parse(fallback.slice(fallback.indexOf('\r\n\r\n') + 4))).toMatchObject({ operators: [{ id_user: 'u1' }] });
  await stopBackground();
});

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}
