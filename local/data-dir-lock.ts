import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** The lock file a running local stack keeps in its data folder. */
export const LOCK_FILE = 'local-stack.lock';

/**
 * Claims a data folder for this process: two stacks on one folder would corrupt each other's
 * DynamoDB files (and the second one fails deep inside leveldb). The lock file holds the owner's
 * pid; a lock whose process is gone (killed with SIGKILL) is taken over. Returns the release.
 * Throws a one-line error naming the other stack's pid when the folder is in use.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, LOCK_FILE);
  for (let tries = 0; ; tries += 1) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw error;
      const owner = Number(readOwner(lockPath));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new Error(
          `DATA_DIR ${dataDir} is in use by another local stack (pid ${owner}): stop that one first, or give this one another DATA_DIR`,
        );
      }
      unlinkSync(lockPath);
    }
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    if (readOwner(lockPath) === String(process.pid)) unlinkSync(lockPath);
  };
  // Also on an exit that skips the orderly stop (process.exit after a fatal error).
  process.on('exit', release);
  return release;
}

function readOwner(lockPath: string): string | undefined {
  try {
    return readFileSync(lockPath, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
