import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface FauxqsProcess {
  address: string;
  stop(): Promise<void>;
}

/** Starts fauxqs (the SQS emulator) in a child process on a free loopback port. */
export function startFauxqsProcess(): Promise<FauxqsProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, 'fauxqs-server.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FAUXQS_PORT: '0' },
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
    const timer = setTimeout(() => reject(new Error('fauxqs did not start within 15 s')), 15_000);
    child.once('exit', (code) => reject(new Error(`fauxqs exited with code ${code} before it was ready`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const { address } = JSON.parse(line) as { address: string };
        resolve({ address, stop });
      } catch {
        reject(new Error(`unexpected fauxqs output: ${line}`));
      }
    });
  });
}
