import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './npm-run';

/** A copy of the project as `git clone && npm ci` leaves it. */
export interface CleanClone {
  dir: string;
  remove(): void;
}

/**
 * Copies the project's files as a clone has them — tracked files and new ones not ignored, so
 * uncommitted work is tested too, but nothing git ignores (no `console/dist`, no `cdk.out`) —
 * into a temporary folder, with `node_modules` linked to this checkout's installed packages
 * (what `npm ci` would install from the same lock file). Screenshots are left out: nothing runs them.
 */
export function cleanClone(): CleanClone {
  const dir = mkdtempSync(path.join(tmpdir(), 'clean-clone-'));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file && !file.endsWith('.png') && existsSync(path.join(REPO_ROOT, file)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
  }
  symlinkSync(realpathSync(path.join(REPO_ROOT, 'node_modules')), path.join(dir, 'node_modules'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
