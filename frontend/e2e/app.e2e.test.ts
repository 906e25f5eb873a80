/**
 * @vitest-environment node
 *
 * The web app in headless Chromium against a real standalone backend and the fake model server.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import en from '../src/i18n/en.json';
import { launchBrowser, newContext, signIn } from './support/browser';
import {
  apiAs,
  createUser,
  e2eSkipReason,
  type Platform,
  slowAnswer,
  startPlatform,
} from './support/platform';

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`[frontend e2e] skipped: ${skipReason}`);

const replyLog = (page: Page) => page.getByRole('log', { name: 'Agent reply' });

async function newSession(page: Page, title: string): Promise<string> {
  await page.goto(`${platform.url}/chat`);
  await page.getByRole('button', { name: 'New session' }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]+$/);
  const id = page.url().split('/').pop() ?? '';
  await apiAsCookie(page, 'PATCH', `/sessions/${id}`, { title });
  await page.reload();
  await page.getByRole('heading', { name: title }).waitFor();
  return id;
}

/** A request from inside the page, with its session cookie. */
async function apiAsCookie(page: Page, method: string, path: string, body?: unknown) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const response = await fetch(`/api/v1${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, text: await response.text() };
    },
    { method, path, body },
  );
}

async function setEditorCode(page: Page, code: string) {
  const editor = page.locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
}

let platform: Platform;
let browser: Browser;

// Each case drives a real browser against a real backend on a shared, busy machine.
describe.skipIf(skipReason !== null)('web app end to end', { timeout: 150_000 }, () => {
  beforeAll(async () => {
    platform = await startPlatform();
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
  }, 60_000);

  it('signs in with a token, refuses a wrong one, and signs out', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${platform.url}/`);
    await page.getByLabel('API token').fill(`ipa_${'x'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token is not valid or has been revoked.').waitFor();

    await page.getByLabel('API token').fill(platform.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Operations' }).waitFor();
    expect(page.url()).toMatch(/\/chat$/);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    const me = await apiAsCookie(page, 'GET', '/me');
    expect(me.status).toBe(401);
    await context.close();
  });

  it('runs a script and shows its output while it streams', async () => {
    const { token } = await createUser(platform, 'script-runner');
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await page.getByRole('link', { name: 'Automations' }).click();
    await page.locator('.cm-content').waitFor();
    await setEditorCode(
      page,
      "for (let i = 1; i <= 3; i++) {\nconsole.log('tick ' + i);\nawait new Promise((r) => setTimeout(r, 1500));\n}\nreturn { ticks: 3, name: input.name };",
    );
    await page.getByLabel('Input (JSON)').fill('{"name": "Mei"}');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const output = page.getByTestId('run-output');
    await output.getByText('tick 1').waitFor({ timeout: 30_000 });
    // Streaming: the first line is on screen while the run is still going.
    expect(await output.textContent()).not.toContain('tick 3');
    await page.getByTestId('run-result').waitFor({ timeout: 30_000 });
    expect(await output.textContent()).toBe('tick 1\ntick 2\ntick 3\n');
    expect(JSON.parse((await page.getByTestId('run-result').textContent()) ?? '')).toEqual({
      ticks: 3,
      name: 'Mei',
    });
    await page.locator('.run-panel .badge', { hasText: 'succeeded' }).waitFor();
    // The run is in the history.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('table .badge', { hasText: 'succeeded' }).first().waitFor();
    await context.close();
  });

  it('uploads a CSV, runs a script that writes a report to outputs/, and downloads the same bytes', async () => {
    const { token } = await createUser(platform, 'analyst');
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await page.getByRole('link', { name: 'Files' }).click();
    const csv = 'city,sales\nTaipei,120\nTainan,80\nHsinchu,45\n';
    await page
      .locator('input[type=file]')
      .setInputFiles({ name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Preview uploads/sales.csv' }).waitFor();
    // Drag and drop works too.
    const dataTransfer = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped here'], 'dropped.txt', { type: 'text/plain' }));
      return transfer;
    });
    await page.dispatchEvent('[data-testid=dropzone]', 'drop', { dataTransfer });
    await page.getByRole('button', { name: 'Preview uploads/dropped.txt' }).waitFor();

    await page.getByRole('link', { name: 'Automations' }).click();
    await page.locator('.cm-content').waitFor();
    await setEditorCode(
      page,
      [
        "const fs = require('node:fs');",
        "const rows = fs.readFileSync('../uploads/sales.csv', 'utf8').trim().split('\\n').slice(1).map((l) => l.split(','));",
        'const total = rows.reduce((sum, [, n]) => sum + Number(n), 0);',
        "const report = rows.map(([city, n]) => city + ',' + n + ',' + ((Number(n) / total) * 100).toFixed(1) + '%').join('\\n') + '\\nTOTAL,' + total + ',100.0%\\n';",
        "fs.writeFileSync('../outputs/report.csv', report);",
        'return { total };',
      ].join('\n'),
    );
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByTestId('run-result').waitFor({ timeout: 30_000 });
    expect(JSON.parse((await page.getByTestId('run-result').textContent()) ?? '')).toEqual({ total: 245 });

    await page.getByRole('link', { name: 'Files' }).click();
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download outputs/report.csv' }).click();
    const file = await (await download).path();
    const expected = 'Taipei,120,49.0%\nTainan,80,32.7%\nHsinchu,45,18.4%\nTOTAL,245,100.0%\n';
    expect(await readFile(file, 'utf8')).toBe(expected);

    // The preview shows the report as a table.
    await page.getByRole('button', { name: 'Preview outputs/report.csv' }).click();
    await page.getByRole('dialog').getByRole('cell', { name: 'Hsinchu' }).waitFor();
    await context.close();
  });

  it('runs an agent turn through the model with its tool call rendered as a card', async () => {
    const { token } = await createUser(platform, 'chatter');
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await newSession(page, 'Echo test');
    await page.getByLabel('Message to the agent').fill('remember the blue notebook');
    await page.getByRole('button', { name: 'Send' }).click();
    const card = page.locator('details.tool-card', { hasText: 'write_file' });
    await card.waitFor({ timeout: 30_000 });
    await page.getByText('I saved your message to outputs/echo.txt').waitFor({ timeout: 30_000 });
    await card.locator('.tool-state', { hasText: 'done' }).waitFor();
    await card.locator('summary').click();
    expect(await card.locator('.tool-body').textContent()).toContain('remember the blue notebook');
    // Token usage of the turn is shown.
    await page.locator('.usage-line', { hasText: 'output tokens' }).first().waitFor();
    // What the tool wrote is a real file in the user's sandbox.
    const files = await apiAs<{ items: { path: string }[] }>(platform, token, 'GET', '/files');
    expect(files.items.map((f) => f.path)).toContain('outputs/echo.txt');
    await context.close();
  });

  it('cancels a running turn with Stop', async () => {
    const { token } = await createUser(platform, 'canceller');
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await newSession(page, 'Cancel test');
    await page.getByLabel('Message to the agent').fill('slow please');
    await page.getByRole('button', { name: 'Send' }).click();
    await replyLog(page).getByText(/n3\b/).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.turn-status .badge', { hasText: 'cancelled' }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(0);
    const runs = await apiAs<{ items: { status: string }[] }>(
      platform,
      token,
      'GET',
      '/executions?kind=agent',
    );
    expect(runs.items[0]?.status).toBe('cancelled');
    await context.close();
  });

  it('continues the turn after a reload mid-stream, without losing or repeating text', async () => {
    const { token } = await createUser(platform, 'reloader');
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await newSession(page, 'Reload test');
    await page.getByLabel('Message to the agent').fill('slow and steady');
    await page.getByRole('button', { name: 'Send' }).click();
    await replyLog(page).getByText(/n20\b/).waitFor({ timeout: 30_000 });
    const before = ((await replyLog(page).textContent()) ?? '').trim();
    const lastEventIds: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/events')) lastEventIds.push(request.headers()['last-event-id'] ?? '');
    });
    await page.reload();
    const log = replyLog(page);
    await log.waitFor({ timeout: 20_000 });
    // The reloaded page resumed the stream where it left off.
    expect(lastEventIds[0]).toMatch(/\S/);
    let text = '';
    for (let i = 0; i < 200; i++) {
      text = ((await log.textContent().catch(() => '')) ?? '').trim();
      if (text.length > before.length + 60) break;
      await page.waitForTimeout(100);
    }
    expect(text.length).toBeGreaterThan(before.length + 60);
    expect(slowAnswer.startsWith(text)).toBe(true);
    expect(text.startsWith(before.slice(0, before.length - 6))).toBe(true);
    // At the end the stored message is exactly the answer.
    await page.locator('.turn .markdown', { hasText: 'n220' }).waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByRole('log').count(), { timeout: 20_000 }).toBe(0);
    const stored = ((await page.locator('.turn .markdown').last().textContent()) ?? '').trim();
    expect(stored).toBe(slowAnswer);
    await context.close();
  });

  it('shows no untranslated string in zh-TW and remembers the choice', async () => {
    const { token } = await createUser(platform, '林美玲', true);
    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await page.getByLabel('Language').selectOption('zh-TW');
    await page.getByRole('link', { name: '對話' }).waitFor();
    await page.reload();
    await page.getByRole('link', { name: '對話' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-TW');

    const english = englishStrings();
    const views = ['/chat', '/automations', '/files', '/ops', '/admin'];
    const leftovers: string[] = [];
    for (const view of views) {
      await page.goto(`${platform.url}${view}`);
      await page.locator('main h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      const text = await page.evaluate(() => {
        // What the platform says, not what users wrote: code, names, titles and messages are data.
        const copy = document.body.cloneNode(true) as HTMLElement;
        for (const data of copy.querySelectorAll(
          '.cm-editor, .user-name, .user-chip, .session-title, .chat-title, .bubble, .markdown, .mono, textarea',
        ))
          data.remove();
        document.body.append(copy);
        copy.style.position = 'absolute';
        // Visible text plus accessible names and placeholders, which screen readers read out.
        const attributes = [...copy.querySelectorAll('[aria-label],[placeholder],[title]')].map((element) =>
          ['aria-label', 'placeholder', 'title'].map((name) => element.getAttribute(name) ?? '').join('\n'),
        );
        // biome-ignore lint/performance/useDomNodeTextContent: only the text a person sees counts here
        const visible = copy.innerText;
        copy.remove();
        return `${visible}\n${attributes.join('\n')}`;
      });
      for (const phrase of english) {
        const escaped = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        if (new RegExp(`(^|[^A-Za-z])${escaped}([^A-Za-z]|$)`).test(text))
          leftovers.push(`${view}: ${phrase}`);
      }
    }
    expect(leftovers).toEqual([]);
    await context.close();
  });

  it('keeps one user from seeing another user’s sessions, files and runs', async () => {
    const first = await createUser(platform, 'first-user');
    const second = await createUser(platform, 'second-user');
    const session = await apiAs<{ id: string }>(platform, first.token, 'POST', '/sessions', {
      title: 'Private plans',
    });
    await fetch(`${platform.url}/api/v1/files/uploads/private.txt`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${first.token}`, 'content-type': 'text/plain' },
      body: 'secret',
    });

    const context = await newContext(browser);
    const page = await context.newPage();
    await signIn(page, platform.url, second.token);
    await page.getByText('No sessions yet').waitFor();
    expect(await page.getByText('Private plans').count()).toBe(0);
    await page.goto(`${platform.url}/chat/${session.id}`);
    await page.getByRole('alert').first().waitFor();
    expect(await page.getByText('Private plans').count()).toBe(0);
    await page.goto(`${platform.url}/files`);
    await page.getByText('No files yet').waitFor();
    expect(await page.getByText('private.txt').count()).toBe(0);
    const direct = await apiAsCookie(page, 'GET', '/files/uploads/private.txt');
    expect(direct.status).toBe(404);
    await context.close();
  });
});

/** English catalogue strings that must not show on a zh-TW page (placeholders and shared names aside). */
function englishStrings(): string[] {
  const out: string[] = [];
  const walk = (tree: Record<string, unknown>) => {
    for (const value of Object.values(tree)) {
      if (typeof value === 'string') {
        for (const piece of value.split(/\{\{\w+\}\}/)) {
          const phrase = piece
            .trim()
            .replace(/[.:·…—]+$/, '')
            .trim();
          // Short fragments ("of", "ms") and product names are not evidence of a missing translation.
          if (
            phrase.length >= 4 &&
            /[a-z]{3}/.test(phrase) &&
            !/^(JavaScript|TypeScript|Python|Shell|IPA Platform|ipa_)/.test(phrase)
          )
            out.push(phrase);
        }
      } else if (value && typeof value === 'object') walk(value as Record<string, unknown>);
    }
  };
  walk(en as Record<string, unknown>);
  return [...new Set(out)];
}
