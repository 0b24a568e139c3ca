#!/usr/bin/env node
import { CONSOLE_BUILD_DIR, CONSOLE_GZIP_BUDGET_BYTES, buildConsole } from '../lib/console-build';

/** `npm run build:console [-- --out-dir <dir>]`: builds the web console and prints its size. */
async function main(): Promise<void> {
  const flag = process.argv.indexOf('--out-dir');
  const outDir = flag >= 0 ? process.argv[flag + 1] : CONSOLE_BUILD_DIR;
  if (!outDir) throw new Error('--out-dir needs a folder');
  const result = await buildConsole(outDir);
  const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
  for (const file of result.files) console.log(`  ${file.name.padEnd(40)} ${kb(file.bytes).padStart(9)}  gzip ${kb(file.gzipBytes)}`);
  console.log(`console built in ${result.outDir}: ${kb(result.gzipBytes)} gzipped (budget ${kb(CONSOLE_GZIP_BUDGET_BYTES)})`);
  if (result.gzipBytes > CONSOLE_GZIP_BUDGET_BYTES) throw new Error('the console is over its size budget');
}

main().catch((error: unknown) => {
  console.error('console build failed:', error);
  process.exit(1);
});
