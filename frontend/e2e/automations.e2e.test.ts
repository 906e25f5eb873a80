/**
 * @vitest-environment node
 *
 * Saved automations in headless Chromium against a real standalone backend: save, change, keep a
 * draft across navigation, run with schema-checked input, go back to an earlier version, schedule
 * in a time zone, trigger from outside with a signed webhook, and see every run's trigger.
 */
import { createHmac } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, signIn } from './support/browser';
import { createUser, e2eSkipReason, type Platform, startPlatform } from './support/platform';

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`[frontend e2e] skipped: ${skipReason}`);

let platform: Platform;
let browser: Browser;

describe.skipIf(skipReason !== null)('automations end to end', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    platform = await startPlatform();
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
  }, 60_000);

  it('saves, versions, runs, schedules and triggers an automation', async () => {
    const { token } = await createUser(platform, 'automator');
    const context = await newContext(browser, { locale: 'en-US' });
    const page = await context.newPage();
    await signIn(page, platform.url, token);
    await page.goto(`${platform.url}/automations`);
    await page.getByRole('button', { name: 'New automation' }).click();
    await page.waitForURL(/\/automations\/[0-9a-f-]+$/);
    const automationUrl = page.url();
    // The two "Language" controls are told apart (and the automation page, not the list, is shown).
    await page.getByLabel('Script language').waitFor();
    await page.getByRole('button', { name: 'Save as new version' }).waitFor();
    await page.locator('.editor-card .cm-content').waitFor();

    // Version 2: new code and schema.
    const editor = page.locator('.editor-card .cm-content');
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText('return { greeted: input.name, count: input.count };');
    await page.getByLabel('Input schema (JSON Schema)').fill(
      JSON.stringify({
        type: 'object',
        properties: { name: { type: 'string' }, count: { type: 'integer', default: 2 } },
        required: ['name'],
      }),
    );
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByText('Version 2', { exact: true }).first().waitFor();

    // A draft survives leaving the page.
    await editor.click();
    await page.keyboard.press('End');
    await page.keyboard.insertText(' // draft');
    await page.getByRole('status').filter({ hasText: 'Unsaved changes' }).waitFor();
    await page.goto(`${platform.url}/automations`);
    await page.goto(automationUrl);
    await page.getByText('Unsaved changes (from version 2)').waitFor();
    expect(await page.locator('.editor-card .cm-content').textContent()).toContain('// draft');
    await page.getByRole('button', { name: 'Discard changes' }).click();

    // Run with input from the generated form; the defaults are filled in by the server.
    await page.getByLabel('name *').fill('Mei');
    await page.getByRole('button', { name: 'Run now' }).click();
    const detail = page.getByTestId('run-detail');
    try {
      await detail
        .locator('.badge', { hasText: /succeeded|failed|timed_out|cancelled/ })
        .waitFor({ timeout: 60_000 });
    } catch (err) {
      const section = await page.locator('section[aria-labelledby="runs-heading"]').textContent();
      throw new Error(`no finished run: ${page.url()}\n${section}\n${platform.log().slice(-3000)}`, {
        cause: err,
      });
    }
    expect(await detail.textContent(), platform.log().slice(-2000)).toContain('succeeded');
    expect(await detail.textContent()).toContain('"greeted": "Mei"');
    expect(await detail.textContent()).toContain('"count": 2');
    expect(page.url()).toMatch(/\?run=[0-9a-f-]+$/);

    // Back to version 1 through the history's diff.
    await page.getByRole('button', { name: 'Version 1', exact: true }).click();
    await page.getByTestId('version-diff').waitFor();
    await page.getByRole('button', { name: 'Restore version 1' }).click();
    await page.getByText('Version 3', { exact: true }).first().waitFor();

    // A schedule in Taipei time, with its next fire times shown.
    await page.getByLabel('Cron expression').fill('0 9 * * *');
    await page.getByLabel('Time zone').fill('Asia/Taipei');
    await page.getByRole('button', { name: 'Add schedule' }).click();
    await expect.poll(() => page.getByTestId('next-fire-times').locator('li').count()).toBe(5);

    // A webhook, signed with the secret shown once, started from outside.
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const secret = ((await page.getByTestId('webhook-secret').textContent()) ?? '').trim();
    const hookUrl = ((await page.locator('.webhook-item code').first().textContent()) ?? '').trim();
    expect(hookUrl).toMatch(/\/hooks\/[0-9a-f-]+$/);
    const body = JSON.stringify({ from: 'curl' });
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    const delivered = await fetch(`${hookUrl}?wait=30`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ipa-signature': `t=${t},v1=${v1}` },
      body,
    });
    expect(delivered.status).toBe(200);
    await page.reload();
    await page.locator('table').getByText('Webhook').waitFor();
    await page.locator('table').getByText('Manual').first().waitFor();

    // No sideways scrolling on a phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.locator('.editor-card').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 8)
        .map((el) => `${el.tagName}.${el.className}`),
    );
    expect(overflow, wide.join(' | ')).toBeLessThanOrEqual(0);
    await context.close();
  });
});
