import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { REPO_ROOT } from './npm-run';

/** The variable that marks every process of one run: children inherit the environment. */
const MARKER = 'TILEDESK_WEBHOOKS_TEST_RUN';

/** A fresh marker value and the environment that carries it. */
export function markedEnv(env: NodeJS.ProcessEnv = {}): { marker: string; env: NodeJS.ProcessEnv } {
  const marker = randomUUID();
  return { marker, env: { ...process.env, ...env, [MARKER]: marker } };
}

/** Live (not zombie) processes whose environment carries the marker, with their parent pid. */
export function markedProcesses(marker: string): { pid: number; ppid: number; command: string }[] {
  const found: { pid: number; ppid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (!environ.split('\0').includes(`${MARKER}=${marker}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), ppid: Number(ppid), command });
    } catch {
      // The process ended while it was read.
    }
  }
  return found;
}

/** Waits until no process carries the marker; returns those still there after `timeoutMs`. */
export async function waitForNoMarkedProcess(marker: string, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = markedProcesses(marker);
    if (left.length === 0 || Date.now() > deadline) return left.map((p) => `${p.pid} ${p.command}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Whether something accepts connections on the loopback port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `npm start` running in its own process group, as from a terminal. */
export interface StartedStack {
  npm: ChildProcessWithoutNullStreams;
  marker: string;
  apiPort: number;
  awsPort: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The local stack's own process (npm's child). */
  stackPid(): number;
}

/**
 * Starts `npm start` on free ports and resolves once it printed its banner; in `cwd` (another
 * copy of the project) when given.
 */
export async function startNpmStart(env: NodeJS.ProcessEnv = {}, cwd: string = REPO_ROOT): Promise<StartedStack> {
  const marked = markedEnv({ PORT: '0', AWS_PORT: '0', POWERTOOLS_LOG_LEVEL: 'SILENT', ...env });
  const npm = spawn('npm', ['start'], { cwd, env: marked.env, detached: true });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no banner within 60 s:\n${output}`)), 60_000);
    const check = () => {
      if (output.includes('Ctrl-C stops.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    npm.stdout.on('data', check);
    void exited.then(() => reject(new Error(`npm start exited early:\n${output}`)));
  });
  const portOf = (label: string): number => Number(new RegExp(`${label}\\s+http://127\\.0\\.0\\.1:(\\d+)`).exec(output)?.[1]);
  return {
    npm,
    marker: marked.marker,
    apiPort: portOf('API'),
    awsPort: portOf('AWS endpoint'),
    output: () => output,
    exited,
    stackPid() {
      const stack = markedProcesses(marked.marker).find((p) => p.ppid === npm.pid);
      if (!stack) throw new Error('no local stack process under npm');
      return stack.pid;
    },
  };
}
