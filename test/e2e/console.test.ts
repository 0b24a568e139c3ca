import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Locator, Page } from 'playwright-core';
import { signToken } from '../../lambdas/core/token';
import { buildOpenApiDocument } from '../../lambdas/core/openapi-document';
import { TestStack, startTestStack } from '../support/local-stack-harness';
import { eventually, publish } from '../support/pipeline';
import { Receiver, startReceiver } from '../support/receiver';
import { Browser, launchChromium } from '../support/chromium';

/**
 * The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against the local stack: the console's own build, served by the stack, calling its API.
 */

const REPO = path.join(__dirname, '..', '..');
/**
 * Screenshots of the main screens are taken on every run; `CONSOLE_SCREENSHOTS=1` writes them to
 * docs/console (the README shows one) instead of a temporary folder, so a test run leaves the
 * working tree clean.
 */
const SCREENSHOTS =
  process.env.CONSOLE_SCREENSHOTS === '1' ? path.join(REPO, 'docs', 'console') : mkdtempSync(path.join(tmpdir(), 'console-screens-'));
const PROJECT = 'console-project';

let t: TestStack;
let okReceiver: Receiver;
let flakyReceiver: Receiver;
let browser: Browser;
let page: Page;
let adminToken: string;
/** Every URL the browser requested, to prove the token never travels in one. */
const requestedUrls: string[] = [];
/** Console errors and CSP violations the page reported. */
const pageErrors: string[] = [];

jest.setTimeout(120_000);

beforeAll(async () => {
  // The console the stack serves is the one built from these sources now.
  execFileSync('npx', ['tsx', 'bin/build-console.ts'], { cwd: REPO, stdio: 'pipe' });
  mkdirSync(SCREENSHOTS, { recursive: true });
  okReceiver = await startReceiver(() => ({ status: 200, body: '{"received":true}', headers: { 'content-type': 'application/json' } }));
  // Down for the first delivery, up after: the failed attempt is then retried from the console.
  flakyReceiver = await startReceiver((index) =>
    index === 0
      ? { status: 503, body: '{"error":"receiver down for maintenance"}', headers: { 'content-type': 'application/json' } }
      : { status: 200 },
  );
  // One retry an hour away: a failed attempt stays failed until the console retries it.
  t = await startTestStack({ retrySchedule: [3600] });
  adminToken = t.tokenFor({ [PROJECT]: 'owner' }, 'console-admin');
  browser = await launchChromium();
  page = browser.page;
  page.on('request', (request) => requestedUrls.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  if (process.env.CONSOLE_SCREENSHOTS !== '1') rmSync(SCREENSHOTS, { recursive: true, force: true });
  await t?.stop();
  await okReceiver?.close();
  await flakyReceiver?.close();
});

const consoleUrl = (): string => `${t.stack.apiUrl}/console`;
const alert = (): Locator => page.getByRole('alert');
const screenshot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

/**
 * Form controls without a label and buttons without a name on the current screen (run in the
 * page as a string: this repository's TypeScript has no DOM types).
 */
const unlabelled = (): Promise<string[]> =>
  page.evaluate<string[]>(`[
    ...[...document.querySelectorAll('input, select, textarea')].filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => 'control ' + el.outerHTML),
    ...[...document.querySelectorAll('button')].filter((el) => !el.textContent.trim() && !el.getAttribute('aria-label')).map((el) => 'button ' + el.outerHTML),
  ]`);

/**
 * Text on the current screen whose contrast with its background is under WCAG AA (4.5:1, or
 * 3:1 for large text); the background is the nearest opaque one up the tree.
 */
const lowContrast = (): Promise<string[]> =>
  page.evaluate<string[]>(`(() => {
    const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const [R, G, B] = [r, g, b].map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const background = (el) => {
      for (let node = el; node; node = node.parentElement) {
        const color = rgb(getComputedStyle(node).backgroundColor);
        if (color.length === 3 || color[3] === 1) return color.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const found = [];
    for (const el of document.querySelectorAll('body *')) {
      if (![...el.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim())) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || el.getClientRects().length === 0 || el.closest('.visually-hidden')) continue;
      const [fg, bg] = [luminance(rgb(style.color).slice(0, 3)), luminance(background(el))];
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) found.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
    }
    return found;
  })()`);

/** Clicks the section's Refresh until the locator matches (deliveries land asynchronously). */
async function refreshUntil(section: Locator, target: Locator, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await target.count()) === 0) {
    if (Date.now() > deadline) throw new Error(`not shown within ${timeoutMs} ms: ${target.toString()}`);
    await section.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(300);
  }
}

async function openSubscription(target: string): Promise<void> {
  await page.getByRole('button', { name: 'Subscriptions', exact: true }).click();
  await page.getByRole('button', { name: new RegExp(`Open subscription to .* at ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }).click();
  await page.getByRole('heading', { level: 2, name: new RegExp(target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) }).waitFor();
}

async function signIn(token: string, project = PROJECT): Promise<void> {
  await page.goto(consoleUrl());
  const signOut = page.getByRole('button', { name: 'Sign out' });
  if (await signOut.isVisible()) await signOut.click();
  await page.getByLabel('API token').fill(token);
  await page.getByLabel('Project id').fill(project);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the stack serves', () => {
  test('GET /openapi.json without a token: the generated document', async () => {
    const response = await fetch(`${t.stack.apiUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(buildOpenApiDocument());
  });

  test('GET /console with a strict Content-Security-Policy, its assets by exact name only', async () => {
    const response = await fetch(consoleUrl());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const script = await fetch(`${t.stack.apiUrl}${asset}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const missing = await fetch(`${t.stack.apiUrl}/console/assets/..%2Findex.html`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ success: false });
  });

  test('GET /console/ (a trailing slash, as browsers and people type it) is the same page, as an HTTP API routes it', async () => {
    const [plain, slashed] = await Promise.all([fetch(consoleUrl()), fetch(`${consoleUrl()}/`)]);
    expect(slashed.status).toBe(200);
    expect(await slashed.text()).toBe(await plain.text());
  });
});

describe('the console in Chromium', () => {
  let firstSecret: string;

  test('signs in from a #token= link, and takes the token out of the address bar', async () => {
    await page.goto(`${consoleUrl()}#token=${adminToken}&project=${PROJECT}`);
    await page.getByRole('heading', { level: 2, name: 'Subscriptions' }).waitFor();
    expect(page.url()).toBe(consoleUrl());
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(1);
    await page.getByText('No subscriptions yet').waitFor();
  });

  test('creates a subscription and shows its secret once, with a copy button', async () => {
    await page.getByLabel('Event').fill('request.create');
    await page.getByLabel('Target URL').fill(okReceiver.url);
    await page.getByRole('button', { name: 'Create subscription' }).click();
    const secretField = page.getByRole('textbox', { name: 'Signing secret' });
    await secretField.waitFor();
    firstSecret = await secretField.inputValue();
    expect(firstSecret).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText(/Copied to the clipboard|Copy was blocked/).waitFor();
    const row = page.locator('tr', { hasText: okReceiver.url });
    await row.getByText('active').waitFor();
    await screenshot('create-secret');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.content()).not.toContain(firstSecret);
    await page.reload();
    await page.getByRole('heading', { level: 2, name: 'Subscriptions' }).waitFor();
    await row.waitFor();
    expect(await page.content()).not.toContain(firstSecret);
  });

  test('shows a delivery in the attempt list, and sends a test ping', async () => {
    await publish(t, [{ type: 'request.create', detail: { id_project: PROJECT, request_id: 'support-group-1', first_text: 'Hello' } }]);
    await okReceiver.waitFor(1);
    await openSubscription(okReceiver.url);
    const attempts = page.locator('section.attempts');
    await refreshUntil(attempts, attempts.locator('tr[data-outcome="delivered"]'));
    await page.getByRole('button', { name: 'Send test ping' }).click();
    await page.getByText('Test ping sent: delivered.').waitFor();
    await okReceiver.waitFor(2);
    await page.getByRole('img', { name: /Delivery chart\. \d+ attempts/ }).waitFor();
    expect(await unlabelled()).toEqual([]);
    expect(await lowContrast()).toEqual([]);
    await screenshot('subscription');
  });

  test('opens a failed attempt’s response, retries it and sees it delivered', async () => {
    await t.api('POST', `/${PROJECT}/subscriptions`, { token: adminToken, body: { event: 'lead.create', target: flakyReceiver.url } });
    await publish(t, [{ type: 'lead.create', detail: { id_project: PROJECT, _id: 'lead-1', fullname: 'Ada' } }]);
    await flakyReceiver.waitFor(1);
    // The list shows the failing subscription's health at a glance.
    const flakyRow = page.locator('tr', { hasText: flakyReceiver.url });
    await eventually(async () => {
      await page.getByRole('button', { name: 'Subscriptions', exact: true }).click();
      await flakyRow.getByText('1 failure in a row').waitFor({ timeout: 1000 });
    });
    await flakyRow.getByText('failing', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'All attempts' }).click();
    const attempts = page.locator('section.attempts');
    await page.getByLabel('Outcome').selectOption('failed');
    await refreshUntil(attempts, attempts.locator('tr[data-outcome="failed"]'));
    await attempts.locator('tr[data-outcome="failed"]').getByRole('button', { name: /^Open/ }).click();
    const detail = page.locator('#attempt-detail');
    await expect(detail.getByTestId('response-status').textContent()).resolves.toBe('503');
    await detail.getByText('receiver down for maintenance').waitFor();
    await detail.getByText('Next retry').waitFor();
    expect(await unlabelled()).toEqual([]);
    expect(await lowContrast()).toEqual([]);
    await screenshot('attempt');
    await detail.getByRole('button', { name: 'Retry this delivery' }).click();
    await page.getByText(/Retry enqueued under webhook id/).waitFor();
    await flakyReceiver.waitFor(2);
    await page.getByLabel('Outcome').selectOption('delivered');
    await refreshUntil(attempts, attempts.locator('tr[data-outcome="delivered"]', { hasText: 'lead.create' }));
    await page.getByLabel('Outcome').selectOption('');
    await screenshot('attempts');
  });

  test('pages the project-wide attempts, newest first', async () => {
    const flaky = ((await t.api('GET', `/${PROJECT}/subscriptions`, { token: adminToken })).body as unknown as { _id: string; target: string }[]).find(
      (subscription) => subscription.target === flakyReceiver.url,
    )!;
    for (let ping = 0; ping < 26; ping++) {
      expect((await t.api('POST', `/${PROJECT}/subscriptions/${flaky._id}/test`, { token: adminToken })).status).toBe(200);
    }
    await page.getByRole('button', { name: 'Subscriptions', exact: true }).click();
    await page.getByRole('button', { name: 'All attempts' }).click();
    const rows = page.locator('section.attempts tbody tr');
    await page.getByText(/25 of 25 loaded attempts shown/).waitFor();
    const times = await rows.locator('time').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('datetime') ?? ''));
    expect(times).toEqual([...times].sort().reverse());
    await page.getByRole('button', { name: 'Load older attempts' }).click();
    await page.getByText(/(2[6-9]|[3-9]\d) of \1 loaded attempts shown/).waitFor();
    expect(await rows.count()).toBeGreaterThan(25);
  });

  test('sends an example event from a subscription, and shows its message across subscriptions', async () => {
    const second = await startReceiver();
    try {
      const created = await t.api('POST', `/${PROJECT}/subscriptions`, { token: adminToken, body: { event: 'request.create', target: second.url } });
      await openSubscription(okReceiver.url);
      await page.getByRole('button', { name: 'Send example event' }).click();
      await page.getByText(/Example request\.create event published for the project/).waitFor();
      // A real event: both subscribers of request.create get the catalog's example payload.
      const [delivered] = await second.waitFor(1);
      expect(JSON.parse(delivered!.body)).toMatchObject({ payload: { id_project: PROJECT, first_text: 'Hello, I need help with my order' } });
      const webhookId = String(delivered!.headers['webhook-id']);
      const eventId = /^msg_(.+)_[^_]+$/.exec(webhookId)![1]!;
      const attempts = page.locator('section.attempts');
      const messageButton = attempts.getByRole('button', { name: new RegExp(`^${eventId.slice(0, 8)}…`) });
      await refreshUntil(attempts, messageButton);
      await messageButton.click();
      // The project-wide list, narrowed to that message: one attempt per subscription.
      await page.getByText(`Message ${eventId}: its attempts to every subscription.`).waitFor();
      await page.getByText(/^2 of \d+ loaded attempts shown/).waitFor();
      await attempts.locator('tr', { hasText: second.url }).waitFor();
      await attempts.locator('tr', { hasText: okReceiver.url }).first().waitFor();
      expect(await unlabelled()).toEqual([]);
      await page.getByRole('button', { name: 'Show all messages' }).click();
      await t.api('DELETE', `/${PROJECT}/subscriptions/${String(created.body._id)}`, { token: adminToken });
    } finally {
      await second.close();
    }
  });

  test('rotates the secret, shown once', async () => {
    await openSubscription(okReceiver.url);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const secretField = page.getByRole('textbox', { name: 'Signing secret' });
    await secretField.waitFor();
    const rotated = await secretField.inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(firstSecret);
    await page.getByText(/Secret rotated\. The previous one keeps signing until/).waitFor();
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.content()).not.toContain(rotated);
  });

  test('edits the rate limit, and removes it', async () => {
    const rate = page.getByLabel('Rate limit (deliveries per second, empty for none)');
    await rate.fill('5');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('dl.facts').getByText('5 deliveries per second').waitFor();
    expect((await t.api('GET', `/${PROJECT}/subscriptions`, { token: adminToken })).text).toContain('"rateLimit":5');
    await rate.fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('dl.facts').getByText('none', { exact: true }).waitFor();
    expect((await t.api('GET', `/${PROJECT}/subscriptions`, { token: adminToken })).text).not.toContain('rateLimit');
  });

  test('disables and re-enables the subscription', async () => {
    const facts = page.locator('dl.facts');
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('Subscription disabled').waitFor();
    await facts.getByText('disabled', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByText('Subscription enabled again.').waitFor();
    await facts.getByText('active', { exact: true }).waitFor();
  });

  test('recovers since a time: nothing failed, so nothing is re-sent', async () => {
    const before = okReceiver.received.length;
    await page.getByLabel('Since (your local time)').fill('2026-01-01T00:00');
    await page.getByRole('button', { name: 'Recover', exact: true }).click();
    await page.getByText('Nothing to recover since then').waitFor();
    expect(okReceiver.received.length).toBe(before);
  });

  test('recover follows the cursor to the last page and sums what each page did', async () => {
    // Two pages need over 2,000 attempts since the time: the API's answers are stood in for here
    // (the API's own paging: test/lambdas/core/recovery.test.ts).
    const bodies: unknown[] = [];
    await page.route('**/recover', async (route) => {
      bodies.push(route.request().postDataJSON());
      const first = bodies.length === 1;
      await route.fulfill({
        status: 202,
        contentType: 'application/json',
        body: JSON.stringify(
          first
            ? { recovered: 2, webhookIds: ['a', 'b'], alreadyRecovered: 0, unrecoverable: 0, nextCursor: 'page-2' }
            : { recovered: 3, webhookIds: ['c', 'd', 'e'], alreadyRecovered: 1, unrecoverable: 1, nextCursor: null },
        ),
      });
    });
    try {
      await page.getByLabel('Since (your local time)').fill('2026-01-01T00:00');
      await page.getByRole('button', { name: 'Recover', exact: true }).click();
      await page.getByText('5 deliveries re-enqueued (1 already re-sent by an earlier recover; 1 could not be: their payload was not kept).').waitFor();
      expect(bodies).toHaveLength(2);
      expect(bodies[0]).not.toHaveProperty('cursor');
      expect(bodies[1]).toMatchObject({ cursor: 'page-2', since: (bodies[0] as { since: string }).since });
    } finally {
      await page.unroute('**/recover');
    }
  });

  test('deletes the subscription after a confirmation', async () => {
    await page.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this subscription?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await t.api('GET', `/${PROJECT}/subscriptions`, { token: adminToken })).text).toContain(okReceiver.url);
    await page.getByRole('button', { name: 'Delete…' }).click();
    await dialog.getByRole('button', { name: 'Delete subscription' }).click();
    await page.getByRole('heading', { level: 2, name: 'Subscription deleted' }).waitFor();
    await page.getByRole('button', { name: 'Back to subscriptions' }).click();
    // The retried delivery succeeded: the other subscription is healthy again.
    await page.locator('tr', { hasText: flakyReceiver.url }).getByText('healthy', { exact: true }).waitFor();
    expect(await page.locator('tr', { hasText: okReceiver.url }).count()).toBe(0);
    await screenshot('subscriptions');
  });

  test('shows the event catalog with its refinements', async () => {
    await page.getByRole('button', { name: 'Event catalog' }).click();
    await page.getByRole('cell', { name: 'message.create.request.channel.{name}' }).waitFor();
    await page.getByRole('cell', { name: 'Conversation created' }).waitFor();
    const row = page.locator('tr', { hasText: 'Conversation created' });
    await row.locator('summary').click();
    await row.getByLabel('Example payload of request.create').getByText(/"first_text"/).waitFor();
    await screenshot('events');
  });

  test('works on a narrow screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Subscriptions', exact: true }).click();
    await page.getByRole('heading', { level: 2, name: 'Subscriptions' }).waitFor();
    // Nothing but the scrollable tables may be wider than the screen.
    // A string: this repository's TypeScript has no DOM types; the expression runs in the page.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot('narrow');
    await page.setViewportSize({ width: 1200, height: 900 });
  });

  test('is usable by keyboard: focus on the view’s heading, views open with Enter, a form submits with Enter; a 400 names the field', async () => {
    // Polled with page.evaluate: waitForFunction evaluates strings with eval, which the CSP refuses.
    const until = (expression: string) => eventually(async () => expect(await page.evaluate<boolean>(expression)).toBe(true), 5000, 50);
    const focusedHeading = (name: string) =>
      until(`document.activeElement?.tagName === 'H2' && document.activeElement.textContent === ${JSON.stringify(name)}`);
    await page.reload();
    await page.locator('tr', { hasText: flakyReceiver.url }).waitFor();
    await focusedHeading('Subscriptions');
    expect(await unlabelled()).toEqual([]);
    expect(await lowContrast()).toEqual([]);
    await page.keyboard.press('Tab');
    await until(`document.activeElement?.getAttribute('aria-label') === 'Subscriptions, scrollable'`);
    await page.getByRole('button', { name: 'Event catalog' }).focus();
    await page.keyboard.press('Enter');
    // The view's heading takes the focus, so a screen reader announces where the user is.
    await focusedHeading('Event catalog');
    await page.getByRole('button', { name: 'Subscriptions', exact: true }).focus();
    await page.keyboard.press('Enter');
    await focusedHeading('Subscriptions');
    await page.getByLabel('Target URL').focus();
    await page.keyboard.type('ftp://example.com/hook');
    await page.keyboard.press('Enter');
    await alert().waitFor();
    const text = (await alert().textContent()) ?? '';
    expect(text).toMatch(/400/);
    expect(text).toMatch(/target/);
    expect(text).toMatch(/must use https/);
    await screenshot('error-400');
  });

  test('says in words why an expired token (401) and an agent’s token (403) are refused', async () => {
    const expired = signToken({ sub: 'console-admin', projects: { [PROJECT]: 'owner' } }, t.jwtSecret, -60);
    await signIn(expired);
    await alert().waitFor();
    expect(await alert().textContent()).toMatch(/Error 401:.*not accepted.*Token expired.*Sign in again/);
    await signIn(t.tokenFor({ [PROJECT]: 'agent' }, 'console-agent'));
    await alert().waitFor();
    expect(await alert().textContent()).toMatch(/Error 403:.*owner or admin role/);
    await screenshot('error-403');
  });

  test('never sent the token in a URL, and the page broke no CSP rule', () => {
    const tokenParts = [adminToken.split('.')[2]!];
    expect(requestedUrls.filter((url) => tokenParts.some((part) => url.includes(part)))).toEqual([]);
    expect(pageErrors.filter((message) => !/status of 40[0-9]/.test(message))).toEqual([]);
  });
});
