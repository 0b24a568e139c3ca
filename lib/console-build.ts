import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The console's sources (a Preact app built by Vite). */
export const CONSOLE_SOURCE_DIR = path.join(__dirname, '..', 'console');
/** Where `npm run build:console` puts the build the local stack serves. */
export const CONSOLE_BUILD_DIR = path.join(CONSOLE_SOURCE_DIR, 'dist');
/** The page's public path: every asset URL starts with it. */
export const CONSOLE_BASE = '/console/';
/** The gzipped size the console's files must stay under. */
export const CONSOLE_GZIP_BUDGET_BYTES = 150 * 1024;
/** Beside a build: the source files it was built from and their digest, to tell when it is stale. */
export const CONSOLE_INPUTS_FILE = '.inputs.json';
const REPO_ROOT = path.join(__dirname, '..');

/** What a build produced: each file and its size, raw and gzipped. */
export interface ConsoleBuild {
  outDir: string;
  files: { name: string; bytes: number; gzipBytes: number }[];
  gzipBytes: number;
}

/**
 * Builds the console with Vite into `outDir`: JSX compiled for Preact by Vite's own transform
 * (no plugin), no module-preload polyfill (it would be an inline script the CSP refuses).
 */
export async function buildConsole(outDir: string = CONSOLE_BUILD_DIR): Promise<ConsoleBuild> {
  // Vite is ESM with types only for bundler-style resolution; this repository resolves as Node does.
  const vite = 'vite';
  const { build } = (await import(vite)) as { build(config: Record<string, unknown>): Promise<unknown> };
  const inputs = new Set<string>([path.join(CONSOLE_SOURCE_DIR, 'index.html'), __filename, path.join(REPO_ROOT, 'package-lock.json')]);
  await build({
    configFile: false,
    root: CONSOLE_SOURCE_DIR,
    base: CONSOLE_BASE,
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    // Every module the bundle reads, so a later start can tell whether this build is still current.
    plugins: [{ name: 'record-inputs', transform: (_code: string, id: string) => void inputs.add(id.split('?')[0]!) }],
    build: {
      outDir,
      emptyOutDir: true,
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      sourcemap: false,
      reportCompressedSize: false,
    },
  });
  const sources = [...inputs].filter((file) => file.startsWith(REPO_ROOT) && !file.includes(`${path.sep}node_modules${path.sep}`) && existsSync(file));
  const recorded: BuildInputs = { files: sources.map((file) => path.relative(REPO_ROOT, file)).sort(), digest: '' };
  recorded.digest = digestOf(recorded.files);
  writeFileSync(path.join(outDir, CONSOLE_INPUTS_FILE), `${JSON.stringify(recorded, null, 2)}\n`);
  return measure(outDir);
}

interface BuildInputs {
  /** Source files, relative to the repository root. */
  files: string[];
  digest: string;
}

/** SHA-256 over the files' names and contents; a missing file counts as changed. */
function digestOf(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    const absolute = path.join(REPO_ROOT, file);
    hash.update(`${file}\0${existsSync(absolute) ? readFileSync(absolute).toString('base64') : 'missing'}\0`);
  }
  return hash.digest('hex');
}

/**
 * Why the build in `outDir` cannot be served as it is: missing, made by an older `npm run
 * build:console` that recorded no inputs, or older than one of its sources (content, not times:
 * a `git checkout` touches times). `undefined` when it is current.
 */
export function consoleBuildStaleness(outDir: string = CONSOLE_BUILD_DIR): string | undefined {
  if (!existsSync(path.join(outDir, 'index.html'))) return 'not built yet';
  const inputsFile = path.join(outDir, CONSOLE_INPUTS_FILE);
  if (!existsSync(inputsFile)) return 'built without a record of its sources';
  const recorded = JSON.parse(readFileSync(inputsFile, 'utf8')) as BuildInputs;
  return digestOf(recorded.files) === recorded.digest ? undefined : 'its sources changed since it was built';
}

/**
 * Builds the console into `outDir` unless the build there is current, so that `npm start` on
 * a fresh clone serves it with no separate step. Says what it does on `log`: the first start
 * takes a few seconds longer.
 */
export async function ensureConsoleBuilt(outDir: string = CONSOLE_BUILD_DIR, log: (line: string) => void = console.log): Promise<void> {
  const reason = consoleBuildStaleness(outDir);
  if (!reason) return;
  const started = Date.now();
  log(`building the web console (${reason})…`);
  const result = await buildConsole(outDir);
  if (result.gzipBytes > CONSOLE_GZIP_BUDGET_BYTES) throw new Error(`the console is over its size budget: ${result.gzipBytes} bytes gzipped`);
  log(`web console built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Sizes of the built files, the page and its assets. */
export function measure(outDir: string): ConsoleBuild {
  const names = ['index.html', ...readdirSync(path.join(outDir, 'assets')).map((name) => `assets/${name}`)];
  const files = names.map((name) => {
    const content = readFileSync(path.join(outDir, name));
    return { name, bytes: content.length, gzipBytes: gzipSync(content).length };
  });
  return { outDir, files, gzipBytes: files.reduce((sum, file) => sum + file.gzipBytes, 0) };
}

/**
 * NodejsFunction hooks that build the console into the function's bundle (`console/` beside
 * the handler), so the deployed files are always those of the synthesized code.
 */
export function consoleBundling(): ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir, outputDir) => [`cd "${inputDir}" && npx tsx bin/build-console.ts --out-dir "${outputDir}/console"`],
  };
}
