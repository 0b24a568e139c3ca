import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { Browser, launchChromium } from '../support/chromium';
import { CleanClone, cleanClone } from '../support/clean-clone';
import { StartedStack, markedProcesses, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * A newcomer's first `npm start` on a fresh clone (no `console/dist`): the console link it
 * prints answers 200 with the console, built on the way, and a second start reuses that build.
 * `cdk synth` on a fresh clone ships the console too.
 */
let clone: CleanClone | undefined;
let started: StartedStack | undefined;
let browser: Browser | undefined;

jest.setTimeout(300_000);

async function stop(stack: StartedStack): Promise<void> {
  process.kill(-stack.npm.pid!, 'SIGTERM');
  await waitForNoMarkedProcess(stack.marker).catch(() => undefined);
  for (const leftover of markedProcesses(stack.marker)) process.kill(leftover.pid, 'SIGKILL');
}

afterAll(async () => {
  await browser?.close();
  if (started) await stop(started);
  clone?.remove();
});

test('npm start on a clone with no console build serves the console at the link it prints', async () => {
  clone = cleanClone();
  expect(existsSync(path.join(clone.dir, 'console', 'dist'))).toBe(false);
  started = await startNpmStart({ PROJECT_ID: 'fresh-project' }, clone.dir);
  const output = started.output();
  expect(output).toContain('building the web console (not built yet)');
  const link = /(http:\/\/127\.0\.0\.1:\d+\/console#token=[\w.-]+&project=fresh-project)\s/.exec(output)?.[1];
  expect(link).toBeDefined();

  browser = await launchChromium();
  const failed: string[] = [];
  browser.page.on('response', (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
  });
  const page = await browser.page.goto(link!);
  expect(page?.status()).toBe(200);
  await browser.page.getByRole('heading', { level: 1, name: /fresh-project/ }).waitFor();
  await browser.page.getByText('No subscriptions yet').waitFor();
  expect(failed).toEqual([]);
  await stop(started);

  // The build is current now: the next start serves it without building again.
  started = await startNpmStart({ PROJECT_ID: 'fresh-project' }, clone.dir);
  expect(started.output()).not.toContain('building the web console');
  const reply = await fetch(`http://127.0.0.1:${started.apiPort}/console`);
  expect(reply.status).toBe(200);
  expect(await reply.text()).toContain('<script type="module"');
});

test('a change to the console after its build is rebuilt at the next start', async () => {
  appendFileSync(path.join(clone!.dir, 'console', 'src', 'styles.css'), '\n/* changed */\n');
  await stop(started!);
  started = await startNpmStart({ PROJECT_ID: 'fresh-project' }, clone!.dir);
  expect(started.output()).toContain('building the web console (its sources changed since it was built)');
});

test('cdk synth on a clone with no console build puts the console into the public-content bundle', async () => {
  const fresh = cleanClone();
  try {
    // Real bundling (esbuild, no Docker), as `cdk deploy` does before uploading.
    await promisify(execFile)('npx', ['cdk', 'synth', '--quiet'], { cwd: fresh.dir, maxBuffer: 64 * 1024 * 1024 });
    const out = path.join(fresh.dir, 'cdk.out');
    const withConsole = readdirSync(out).filter((name) => name.startsWith('asset.') && existsSync(path.join(out, name, 'console', 'index.html')));
    expect(withConsole).toHaveLength(1);
    const assets = readdirSync(path.join(out, withConsole[0]!, 'console', 'assets'));
    expect(assets.some((name) => name.endsWith('.js'))).toBe(true);
    expect(existsSync(path.join(fresh.dir, 'console', 'dist'))).toBe(false);
    // What deploy uploads is the bundled code: every function's asset is a bundle folder of
    // cdk.out, never the repository (bin/app.ts's settings check, a second App defined without
    // bundling, once synthesized itself over the real one and pointed every asset at the clone).
    const manifest = JSON.parse(readFileSync(path.join(out, 'TiledeskWebhooks.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string } }> };
    const sources = Object.values(manifest.files).map((file) => file.source.path);
    expect(sources.filter((source) => !source.startsWith('asset.') && !source.endsWith('.template.json'))).toEqual([]);
    for (const source of sources.filter((name) => name.startsWith('asset.') && !name.endsWith('.json'))) {
      expect(existsSync(path.join(out, source, 'index.js')) || existsSync(path.join(out, source, 'index.mjs'))).toBe(true);
    }
  } finally {
    fresh.remove();
  }
});
