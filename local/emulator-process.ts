import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface EmulatorProcess {
  address: string;
  stop(): Promise<void>;
}

/**
 * Starts an emulator server script of this folder (`fauxqs-server.mjs`, `dynalite-server.mjs`)
 * in a child process on a free loopback port. The script prints `{"address": ...}` once it
 * listens and exits when its stdin closes. A child process each keeps the emulators' CPU off
 * the process that runs the handlers: on a 2-core machine they then work in parallel.
 */
export function startEmulatorProcess(name: string, script: string, env: Record<string, string> = {}): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(__dirname, script)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 15 s`)), 15_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const { address } = JSON.parse(line) as { address: string };
        resolve({ address, stop });
      } catch {
        reject(new Error(`unexpected ${name} output: ${line}`));
      }
    });
  });
}
