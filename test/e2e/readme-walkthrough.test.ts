import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CodeBlock, codeBlocksOf, sectionOf, shellCommandsOf } from '../support/markdown-blocks';
import { CleanClone, cleanClone } from '../support/clean-clone';
import { REPO_ROOT } from '../support/npm-run';
import { StartedStack, markedEnv, markedProcesses, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * Runs the README's walk-through as a reader would: each block's commands as written, in order,
 * against `npm start` in a fresh copy of the project (no console build, as after `git clone`).
 * Nothing is filled in but the ports (free ones here, so the test never collides with a stack
 * already on 3000/4566/8787): the subscription's id and secret come from the `export` line the
 * walk-through prints and the reader pastes, and a placeholder left in a command fails the test. Long-running commands (`npm start`,
 * `npm run receiver`) run in the background, as in their own terminals; the steps the prose asks
 * for ("subscribe again", "publish as above") re-run the commands of the earlier blocks.
 */
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const API_DOC = readFileSync(path.join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
const blocks = codeBlocksOf(sectionOf(README, 'Walk-through: subscribe, publish, receive'));
/** A fresh copy of the project, as a clone: no console build, nothing from earlier runs. */
const clone: CleanClone = cleanClone();

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
/** What the reader chose: the receiver's port (a free one here). */
const filled = { receiverPort: '' };

afterAll(async () => {
  for (const marker of [receiver?.marker, stack?.marker]) {
    if (!marker) continue;
    for (const leftover of markedProcesses(marker)) process.kill(leftover.pid, 'SIGKILL');
  }
  rmSync(workDir, { recursive: true, force: true });
  clone.remove();
});

/** The command as the reader runs it: documented ports and placeholders replaced. */
function fillIn(command: string): string {
  const current = stack!;
  const text = command
    .replaceAll('http://127.0.0.1:3000', `http://127.0.0.1:${current.apiPort}`)
    .replaceAll('http://127.0.0.1:4566', `http://127.0.0.1:${current.awsPort}`)
    .replace(/127\.0\.0\.1:878[78]\b/g, `127.0.0.1:${filled.receiverPort}`)
    .replace(/--port 878[78]\b/g, `--port ${filled.receiverPort}`);
  expect(text).not.toMatch(/…|<[\w-]+>/);
  return text;
}

/** Runs a command in the reader's shell: in the project folder unless told otherwise. */
function run(command: string, cwd = clone.dir): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

/** The only command of a block. */
function only(block: CodeBlock): string {
  const [command, ...others] = shellCommandsOf(block.code);
  expect(others).toEqual([]);
  return command!;
}

/**
 * What `| npm run -s exports` printed: the API's answer, then the `export SUB=… SECRET=…` line
 * the reader pastes; pasted here too. Returns the answer.
 */
function pasteExports(output: string): { _id: string; secret: string; event: string; health?: Record<string, unknown> } {
  const lines = output.trimEnd().split('\n');
  const exportLine = lines.at(-1)!;
  expect(exportLine).toMatch(/^export SUB=[0-9a-f]+ SECRET=whsec_\S+$/);
  applyExport(exportLine);
  const answer = JSON.parse(lines.slice(0, -1).join('\n')) as { _id: string; secret: string; event: string };
  expect(exportLine).toBe(`export SUB=${answer._id} SECRET=${answer.secret}`);
  return answer;
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
  stack = await startNpmStart(assignments, clone.dir);
  for (const line of stack.output().split('\n')) {
    const exported = /^\s+export (TOKEN|PLATFORM_TOKEN)=(\S+)$/.exec(line);
    if (exported) shellEnv[exported[1]!] = exported[2]!;
  }
}

async function startReceiver(command: string): Promise<void> {
  if (receiver) await stopProcessGroup(receiver);
  const marked = markedEnv(shellEnv);
  const child = spawn('bash', ['-c', fillIn(command)], { cwd: clone.dir, env: marked.env, detached: true });
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

test('the README walk-through works as written, from a fresh copy of the project', async () => {
  const [subscribeBlock, receiverBlock, publishBlock, logsBlock, cliBlock, sdkBlock, restartBlock, dlqBlock, ...rest] = blocks;
  expect(rest).toEqual([]);
  expect(blocks.map((block) => block.language)).toEqual(['bash', 'bash', 'bash', 'bash', 'bash', 'js', 'bash', 'bash']);
  filled.receiverPort = String(await freePort());
  await startStack('npm start');

  // The console link answers with the console, built by this first start (no build step of its own).
  expect(stack!.output()).toContain('building the web console (not built yet)');
  const consolePage = await fetch(`http://127.0.0.1:${stack!.apiPort}/console`);
  expect(consolePage.status).toBe(200);
  // The policy the README shows is the one served.
  const [cspBlock] = codeBlocksOf(sectionOf(README, 'Console'));
  expect(consolePage.headers.get('content-security-policy')).toBe(cspBlock!.code.trim());

  // 1: subscribe; the answer is shown as the README shows it, then the export line to paste.
  const [subscribe, ...noMore] = shellCommandsOf(subscribeBlock!.code);
  expect(noMore).toEqual([]);
  const answer = await runOk(fillIn(subscribe!));
  const created = pasteExports(answer);
  const shownKeys = new Set([...subscribeBlock!.code.matchAll(/^#.*$/gm)].flatMap(([line]) => [...line.matchAll(/"(\w+)":/g)].map((m) => m[1]!)));
  const actualKeys = new Set([...Object.keys(created), ...Object.keys(created.health ?? {})]);
  expect([...shownKeys].filter((key) => !actualKeys.has(key))).toEqual([]);
  expect(Object.keys(created).filter((key) => !shownKeys.has(key))).toEqual([]);
  expect(created.event).toBe('request.create');
  await startReceiver(only(receiverBlock!));

  // Publish with the platform token (POST /events): the answer as shown; the receiver verifies it.
  const published = await runOk(fillIn(only(publishBlock!)));
  expect(JSON.parse(published)).toEqual(JSON.parse(/^# (\{.*\})$/m.exec(publishBlock!.code)![1]!));
  const verified = new RegExp(`verified msg_[0-9a-f-]+_${created._id} request\\.create`);
  await until(() => count(receiver!.output(), verified) === 1, () => `expected one verified delivery:\n${receiver!.output()}`);
  const [logs, history] = shellCommandsOf(logsBlock!.code);
  expect(count(await runOk(fillIn(logs!)), /"outcome":"delivered"/)).toBe(1);
  expect(count(await runOk(fillIn(history!)), /"outcome":"delivered"/)).toBe(1);

  // Then with PutEvents: the AWS CLI, then the SDK.
  const cliCommands = shellCommandsOf(cliBlock!.code);
  for (const command of cliCommands) {
    if (command.startsWith('export ')) applyExport(fillIn(command));
    else expect(JSON.parse(await runOk(fillIn(command)))).toMatchObject({ FailedEntryCount: 0 });
  }
  await publishWithSdk(sdkBlock!);
  await until(() => count(receiver!.output(), verified) === 3, () => `expected three verified deliveries:\n${receiver!.output()}`);
  expect(count(await runOk(fillIn(logs!)), /"outcome":"delivered"/)).toBe(3);

  // Retries and the DLQ: restart with the short schedule, subscribe again, a failing receiver, publish.
  const [restart, failingReceiver] = shellCommandsOf(restartBlock!.code);
  await startStack(restart!);
  // The exported endpoint named 4566, now this stack's port (the only substitution the reader needs not make).
  shellEnv.AWS_ENDPOINT_URL = `http://127.0.0.1:${stack!.awsPort}`;
  expect(stack!.output()).not.toContain('building the web console');
  const again = pasteExports(await runOk(fillIn(subscribe!)));
  await startReceiver(failingReceiver!);
  await runOk(fillIn(only(publishBlock!)));
  await until(
    async () => (await runOk(fillIn(logs!))).includes('"outcome":"dead"'),
    () => `no dead attempt logged:\n${receiver!.output()}`,
  );
  expect(count(receiver!.output(), /answering 500 on purpose/)).toBe(3);

  const dlqCommands = shellCommandsOf(dlqBlock!.code);
  for (const command of dlqCommands.filter((line) => line.startsWith('export '))) applyExport(fillIn(command));
  const [peek, redrive] = dlqCommands.filter((line) => !line.startsWith('export ')).map(fillIn);
  expect(JSON.parse(await runOk(peek!)).Messages).toHaveLength(1);
  expect(await runOk(redrive!)).toContain("COMPLETED: moved 1 message(s) to the DLQ's source queue");
  await until(() => count(receiver!.output(), new RegExp(`verified msg_[0-9a-f-]+_${again._id} request\\.create`)) === 1, () => receiver!.output());

  await stopBackground();
  // A new user's whole walk-through, a dozen npm and CLI processes: 26 s alone, 39 s in CI's full
  // run, and past jest's 60 s once when other work shared the two cores.
}, 120_000);

test("docs/api.md's operator.select example answers with the hook's choice", async () => {
  const [block, ...others] = codeBlocksOf(sectionOf(API_DOC, 'operator.select: choose the agent'));
  expect(others).toEqual([]);
  const [subscribe, runHook, ask] = shellCommandsOf(block!.code);
  filled.receiverPort = String(await freePort());
  await startStack('npm start');
  const created = pasteExports(await runOk(fillIn(subscribe!)));
  expect(created.event).toBe('operator.select');
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
