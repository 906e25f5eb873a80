/**
 * Screenshots of each main view, light and dark, at 1280 px and 390 px wide, into
 * docs/screenshots/. Starts its own standalone backend (see support/platform.ts), seeds a little
 * data through the API so the views are not empty, then drives headless Chromium.
 *
 *   npx tsx frontend/e2e/screenshots.ts
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from './support/browser';
import { apiAs, createUser, e2eSkipReason, type Platform, repoRoot, startPlatform } from './support/platform';

const outDir = join(repoRoot, 'docs/screenshots');

async function waitForExecution(platform: Platform, token: string, id: string) {
  for (let i = 0; i < 300; i++) {
    const execution = await apiAs<{ status: string }>(platform, token, 'GET', `/executions/${id}`);
    if (!['queued', 'running'].includes(execution.status)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function seed(platform: Platform) {
  const { token } = await createUser(platform, 'Mei Lin', true);
  const put = (path: string, body: string, type: string) =>
    fetch(`${platform.url}/api/v1/files/${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body,
    });
  await put('uploads/sales-2026-q1.csv', 'city,sales\nTaipei,120\nTainan,80\nHsinchu,45\n', 'text/csv');
  await put('uploads/brief.md', '# Quarterly brief\n\nSummarise sales by city.\n', 'text/markdown');
  await put('workspace/notes/todo.txt', 'check the Hsinchu numbers\n', 'text/plain');
  const script = await apiAs<{ id: string }>(platform, token, 'POST', '/executions', {
    language: 'javascript',
    code: "const fs = require('node:fs');\nconst rows = fs.readFileSync('../uploads/sales-2026-q1.csv', 'utf8').trim().split('\\n').slice(1);\nconsole.log(rows.length, 'cities');\nfs.writeFileSync('../outputs/report.csv', rows.join('\\n'));\nreturn { cities: rows.length };",
  });
  await waitForExecution(platform, token, script.id);
  const session = await apiAs<{ id: string }>(platform, token, 'POST', '/sessions', {
    title: 'Sales report for Q1',
  });
  const turn = await apiAs<{ execution: { id: string } }>(
    platform,
    token,
    'POST',
    `/sessions/${session.id}/messages`,
    {
      text: 'Save a note: the Q1 report is ready for review.',
    },
  );
  await waitForExecution(platform, token, turn.execution.id);
  await apiAs(platform, token, 'POST', '/sessions', { title: 'Clean up the workspace' });
  await createUser(platform, 'Chen Wei');
  const automation = await apiAs<{ id: string }>(platform, token, 'POST', '/automations', {
    name: 'Daily sales summary',
    description: 'Totals the latest sales upload by city',
    language: 'javascript',
    code: "const fs = require('node:fs');\nconst rows = fs.readFileSync('../uploads/sales-2026-q1.csv', 'utf8').trim().split('\\n').slice(1);\nreturn { cities: rows.length, min: input.min };",
    inputSchema: { type: 'object', properties: { min: { type: 'number', default: 50 } } },
  });
  await apiAs(platform, token, 'POST', `/automations/${automation.id}/schedules`, {
    cron: '0 9 * * 1-5',
    timeZone: 'Asia/Taipei',
  });
  const run = await apiAs<{ id: string }>(platform, token, 'POST', `/automations/${automation.id}/runs`, {
    input: { min: 60 },
  });
  await waitForExecution(platform, token, run.id);
  return { token, sessionId: session.id, automationId: automation.id };
}

async function shoot(
  browser: Browser,
  platform: Platform,
  { token, sessionId, automationId }: { token: string; sessionId: string; automationId: string },
) {
  const views: { name: string; path: string; ready: (page: Page) => Promise<unknown> }[] = [
    {
      name: 'chat',
      path: `/chat/${sessionId}`,
      ready: (page) => page.locator('.turn .markdown').first().waitFor(),
    },
    {
      name: 'automations',
      path: '/automations',
      ready: async (page) => {
        await page.locator('.cm-content').waitFor();
        await page.getByRole('button', { name: 'Run', exact: true }).click();
        await page.getByTestId('run-result').waitFor({ timeout: 60_000 });
      },
    },
    {
      name: 'automation',
      path: `/automations/${automationId}`,
      ready: (page) => page.locator('.editor-card .cm-content').waitFor(),
    },
    { name: 'files', path: '/files', ready: (page) => page.getByText('sales-2026-q1.csv').waitFor() },
    { name: 'operations', path: '/ops', ready: (page) => page.locator('.figure').first().waitFor() },
    {
      name: 'admin',
      path: '/admin',
      ready: async (page) => {
        await page.getByRole('button', { name: 'Mei Lin' }).click();
        await page.locator('.token-panel table, .token-panel p.muted').first().waitFor();
      },
    },
  ];
  for (const theme of ['light', 'dark'] as const) {
    for (const width of [1280, 390]) {
      const context = await browser.newContext({
        viewport: { width, height: width > 500 ? 800 : 844 },
        colorScheme: theme,
        locale: 'en-US',
      });
      const page = await context.newPage();
      await page.goto(`${platform.url}/chat`);
      await page.getByLabel('API token').waitFor();
      await page.screenshot({ path: join(outDir, `signin-${theme}-${width}.png`) });
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#primary-nav').waitFor({ state: 'attached' });
      for (const view of views) {
        await page.goto(`${platform.url}${view.path}`);
        await view.ready(page);
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(300);
        await page.screenshot({ path: join(outDir, `${view.name}-${theme}-${width}.png`) });
      }
      await context.close();
    }
  }
}

const reason = e2eSkipReason();
if (reason) {
  console.error(`screenshots not taken: ${reason}`);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
const platform = await startPlatform();
const browser = await launchBrowser();
try {
  const seeded = await seed(platform);
  await shoot(browser, platform, seeded);
  console.log(`screenshots written to ${outDir}`);
} finally {
  await browser.close();
  await platform.close();
}
