import { Browser, launchChromium } from '../support/chromium';
import { StartedStack, markedProcesses, startNpmStart, waitForNoMarkedProcess } from '../support/process-probe';

/** `npm start` prints a console link that signs in with the printed admin token. */
let started: StartedStack | undefined;
let browser: Browser | undefined;

jest.setTimeout(120_000);

afterAll(async () => {
  await browser?.close();
  if (!started) return;
  process.kill(-started.npm.pid!, 'SIGTERM');
  await waitForNoMarkedProcess(started.marker).catch(() => undefined);
  for (const leftover of markedProcesses(started.marker)) process.kill(leftover.pid, 'SIGKILL');
});

test('npm start prints a #token= console link that opens the console signed in to the project', async () => {
  started = await startNpmStart({ PROJECT_ID: 'link-project' });
  const output = started.output();
  const link = /(http:\/\/127\.0\.0\.1:\d+\/console#token=[\w.-]+&project=link-project)\s/.exec(output)?.[1];
  expect(link).toBeDefined();
  const token = /export TOKEN=(\S+)/.exec(output)?.[1];
  // The token travels only in the fragment, the part of a URL a browser never sends.
  expect(new URL(link!).hash).toBe(`#token=${token}&project=link-project`);
  expect(new URL(link!).search).toBe('');

  browser = await launchChromium();
  const requested: string[] = [];
  browser.page.on('request', (request) => requested.push(request.url()));
  await browser.page.goto(link!);
  await browser.page.getByRole('heading', { level: 1, name: /link-project/ }).waitFor();
  await browser.page.getByRole('heading', { level: 2, name: 'Subscriptions' }).waitFor();
  await browser.page.getByText('No subscriptions yet').waitFor();
  expect(requested.filter((url) => url.includes(token!))).toEqual([]);
});
