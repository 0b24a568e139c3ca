import { StartedStack, isListening, markedProcesses, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * `npm start` as a process: however it is stopped — a signal to npm, to its process group (a
 * terminal's Ctrl-C or hang-up), to the stack's own process, or npm or the stack killed
 * outright — no process of it is left and its ports are free.
 */
let started: StartedStack | undefined;

afterEach(() => {
  // A failed test must not leave its stack running for the next one.
  for (const leftover of started ? markedProcesses(started.marker) : []) {
    try {
      process.kill(leftover.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  started = undefined;
});

type Target = 'npm' | 'process group' | 'stack process';

const cases: [string, Target, NodeJS.Signals][] = [
  ['SIGTERM to npm (kill <pid of npm start>)', 'npm', 'SIGTERM'],
  ['SIGINT to npm', 'npm', 'SIGINT'],
  ['Ctrl-C (SIGINT to the process group)', 'process group', 'SIGINT'],
  ['a closed terminal (SIGHUP to the process group)', 'process group', 'SIGHUP'],
  ['SIGHUP to npm alone', 'npm', 'SIGHUP'],
  ['npm crashing (SIGKILL)', 'npm', 'SIGKILL'],
  ['SIGTERM to the stack process', 'stack process', 'SIGTERM'],
  ['the stack process crashing (SIGKILL)', 'stack process', 'SIGKILL'],
];

test.each(cases)('%s leaves no process behind and frees the ports', async (_name, target, signal) => {
  started = await startNpmStart();
  const stack = started;
  const commands = markedProcesses(stack.marker).map((p) => p.command);
  for (const part of ['bin/local.ts', 'dynalite-server.mjs', 'fauxqs-server.mjs']) {
    expect(commands.some((command) => command.includes(part))).toBe(true);
  }
  expect(await isListening(stack.apiPort)).toBe(true);
  expect(await isListening(stack.awsPort)).toBe(true);

  if (target === 'npm') process.kill(stack.npm.pid!, signal);
  else if (target === 'process group') process.kill(-stack.npm.pid!, signal);
  else process.kill(stack.stackPid(), signal);

  await stack.exited;
  expect(await waitForNoMarkedProcess(stack.marker)).toEqual([]);
  expect(await isListening(stack.apiPort)).toBe(false);
  expect(await isListening(stack.awsPort)).toBe(false);
});
