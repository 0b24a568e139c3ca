import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LOCK_FILE, lockDataDir } from '../../local/data-dir-lock';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'lock-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

test('a lock left by a process that is gone (killed outright) is taken over', () => {
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  writeFileSync(path.join(dataDir, LOCK_FILE), String(gone));
  const release = lockDataDir(dataDir);
  expect(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
  release();
  expect(() => readFileSync(path.join(dataDir, LOCK_FILE))).toThrow(/ENOENT/);
});

test("a live process's lock is refused with its pid", () => {
  writeFileSync(path.join(dataDir, LOCK_FILE), String(process.ppid));
  expect(() => lockDataDir(dataDir)).toThrow(`DATA_DIR ${dataDir} is in use by another local stack (pid ${process.ppid})`);
});
