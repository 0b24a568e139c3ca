import { readFileSync, readdirSync } from 'node:fs';
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
  await build({
    configFile: false,
    root: CONSOLE_SOURCE_DIR,
    base: CONSOLE_BASE,
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir,
      emptyOutDir: true,
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      sourcemap: false,
      reportCompressedSize: false,
    },
  });
  return measure(outDir);
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
