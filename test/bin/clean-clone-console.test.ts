import { appendFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { Browser, launchChromium } from '../support/chromium';
import { CleanClone, cleanClone } from '../support/clean-clone';
import { StartedStack, markedProcesses, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/**
 * A newcomer's first `npm start` on a fresh clone (no `console/dist`): the console link it
 * prints answers 200 with the console, built on the way, and a second start reuses that build.
 */
let clone: CleanClone | undefined;
let started: StartedStack | undefined;
let browser: Browser | undefined;

jest.setTimeout(180_000);

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
