/**
 * @vitest-environment node
 *
 * What a new user meets first, in headless Chromium against a real standalone backend: signing in
 * with an operator's own admin token, a page whose code cannot be fetched, a streaming reply that
 * stays in view, and axe-core accessibility checks of every page in both themes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, signIn } from './support/browser';
import { apiAs, createUser, e2eSkipReason, type Platform, startPlatform } from './support/platform';

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`[frontend e2e] skipped: ${skipReason}`);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// Not in the ipa_ format: IPA_ADMIN_TOKEN may be any string of 24 or more characters.
const ownAdminToken = 'operators-own-admin-secret-2026';

let platform: Platform;
let browser: Browser;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Serious and critical axe-core violations on the page as it is now. */
async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the app's CSP (rightly) refuses inline scripts.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run: (c: unknown, o: unknown) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    // Everything on the page, the script editor (CodeMirror) and highlighted code included.
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function sessionWithReply(page: Page, token: string): Promise<string> {
  const session = await apiAs<{ id: string }>(platform, token, 'POST', '/sessions', { title: 'Tables' });
  await page.goto(`${platform.url}/chat/${session.id}`);
  await page.getByLabel('Message to the agent').fill('hello there');
  await page.keyboard.press('Enter');
  await page.locator('.turn .reply .markdown').first().waitFor({ timeout: 30_000 });
  await expect.poll(() => page.getByRole('log').count(), { timeout: 30_000 }).toBe(0);
  return session.id;
}

describe.skipIf(skipReason !== null)('first visit', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    platform = await startPlatform({ adminToken: ownAdminToken });
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
  }, 60_000);

  it('signs in with an admin token that is not in the ipa_ format, and focus lands in the page', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, ownAdminToken);
    await page.getByRole('link', { name: 'Operations' }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main');
    await context.close();
  });

  it('shows a retry inside the app when a page cannot be fetched, and loads it once the server is back', async () => {
    const { token } = await createUser(platform, 'offline-visitor');
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    // The network goes away after the first page: every script not yet loaded fails.
    await page.route('**/assets/**', (route) => route.abort('internetdisconnected'));
    await page.getByRole('link', { name: 'Files' }).click();
    await page.getByText('This page could not be loaded').waitFor({ timeout: 20_000 });
    // Still the app: its navigation is there, not a developer error page.
    expect(await page.locator('#primary-nav').isVisible()).toBe(true);
    expect(await page.getByText('Unexpected Application Error').count()).toBe(0);
    await page.unroute('**/assets/**');
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor({ timeout: 20_000 });
    await context.close();
  });

  it('follows a streaming reply, keeps Stop in view, and offers a jump to the latest text', async () => {
    const { token } = await createUser(platform, 'follower');
    const context = await newContext(browser, { width: 390, height: 560 });
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    const session = await apiAs<{ id: string }>(platform, token, 'POST', '/sessions', { title: 'Long' });
    await page.goto(`${platform.url}/chat/${session.id}`);
    const composer = page.getByLabel('Message to the agent');
    // Opening a session puts the cursor in the composer.
    await expect.poll(() => composer.evaluate((el) => el === document.activeElement)).toBe(true);
    await composer.fill('slow and long');
    await page.keyboard.press('Enter');
    const scroller = page.locator('.chat-scroll');
    const gap = () => scroller.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await page
      .getByRole('log')
      .getByText(/n170\b/)
      .waitFor({ timeout: 40_000 });
    expect(await scroller.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
    expect(await gap()).toBeLessThan(60);
    const stop = page.getByRole('button', { name: 'Stop' });
    expect(await stop.isVisible()).toBe(true);
    const box = await stop.boundingBox();
    expect(box && box.y + box.height <= 560).toBe(true);
    // Reading back: the view stays where the reader is and offers the way back.
    await scroller.evaluate((el) => {
      el.scrollTop = 0;
    });
    await page.getByRole('button', { name: /Jump to latest/ }).click();
    expect(await gap()).toBeLessThan(60);
    await stop.click();
    await context.close();
  });

  it('lays out the workers table at 390 px without an empty row', async () => {
    const context = await newContext(browser, { width: 390, height: 800 });
    const page = await context.newPage();
    await signIn(page, platform.url, ownAdminToken);
    await page.goto(`${platform.url}/ops`);
    const table = page.locator('section[aria-labelledby="workers-heading"] table');
    await table.waitFor({ timeout: 20_000 });
    // The table is exactly its rows: no anonymous row that the browser made up.
    const gap = await table.evaluate((element) => {
      const rows = Array.from(element.querySelectorAll('tr'));
      const sum = rows.reduce((total, row) => total + row.getBoundingClientRect().height, 0);
      return element.getBoundingClientRect().height - sum;
    });
    expect(gap).toBeLessThan(4);
    await context.close();
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`has no serious or critical axe-core violation on any page (${colorScheme})`, async () => {
      const context = await newContext(browser, { colorScheme });
      const page = await context.newPage();
      const problems: string[] = [];
      const check = async (name: string) => {
        await page.waitForLoadState('networkidle');
        for (const problem of await seriousViolations(page)) problems.push(`${name}: ${problem}`);
      };
      await page.goto(`${platform.url}/chat`);
      await page.getByLabel('API token').waitFor();
      await check('sign-in');
      await signIn(page, platform.url, ownAdminToken);
      await check('chat');
      const sessionId = await sessionWithReply(page, ownAdminToken);
      await page.goto(`${platform.url}/chat/${sessionId}`);
      await page.locator('.turn').first().waitFor();
      await check('chat session');
      // A saved script with comments, strings, a regular expression and numbers: the editor's
      // token colours are checked on the automation's own page too.
      const saved = await apiAs<{ id: string }>(platform, ownAdminToken, 'POST', '/automations', {
        name: `Colours ${colorScheme}`,
        language: 'typescript',
        code: "// a comment\nconst re = /a+b/g;\nconst n: number = 42;\nexport const s = 'y' + String(re) + n;\nclass A { m() { return null; } }\n",
      });
      for (const [path, heading] of [
        ['/automations', 'Automations'],
        [`/automations/${saved.id}`, `Colours ${colorScheme}`],
        ['/files', 'Files'],
        ['/ops', 'Operations'],
        ['/admin', 'Users & tokens'],
      ] as const) {
        await page.goto(`${platform.url}${path}`);
        await page.getByRole('heading', { name: heading, level: 1 }).waitFor({ timeout: 20_000 });
        // The editor loads after the page: check it with its highlighted sample in place.
        if (path.startsWith('/automations')) await page.locator('.cm-editor .cm-line span').first().waitFor();
        await check(path);
      }
      await context.close();
      expect(problems).toEqual([]);
    });
  }
});
