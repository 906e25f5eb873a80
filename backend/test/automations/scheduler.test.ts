import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/api/app.js';
import type { User } from '../../src/store/index.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

/** The schedule runner's admission rules, driven tick by tick (no loop, no worker). */

let platform: TestPlatform;
let app: FastifyInstance;
let user: User;

beforeAll(async () => {
  platform = await createTestPlatform({ env: { USER_CONCURRENCY: '1' } });
  app = await buildApiApp(platform.services, { scheduler: { enabled: false } });
  await app.ready();
  user = await platform.services.store.users.create({ name: 'busy' });
});

afterAll(async () => {
  await app?.close();
  await platform?.cleanup();
});

describe('schedule runner', () => {
  it('records a tick it cannot admit (the user is at the limit) as skipped with the reason', async () => {
    const { store } = platform.services;
    const automation = await store.automations.create(user.id, {
      name: 'busy',
      language: 'javascript',
      code: 'return 1',
      inputSchema: { type: 'object', properties: { n: { type: 'number', default: 7 } } },
    });
    // The one execution the user may have, still queued (no worker runs here).
    await store.executions.create({
      userId: user.id,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    });
    const tick = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    const schedule = await store.schedules.create(user.id, automation.id, {
      cron: '0 0 1 1 *',
      timeZone: 'UTC',
      enabled: true,
      overlap: 'allow',
      catchUp: 'skip',
      nextFireAt: tick,
    });
    expect(await app.scheduler.runDue()).toBe(1);
    const runs = await store.executions.list(user.id, { automationId: automation.id });
    expect(runs.items).toEqual([
      expect.objectContaining({
        status: 'skipped',
        trigger: 'schedule',
        triggerId: schedule!.id,
        scheduledFor: tick,
        error: expect.objectContaining({ code: 'too_many_executions' }),
      }),
    ]);
    // The tick moved on to the next one; firing again finds nothing due.
    expect((await store.schedules.get(user.id, automation.id, schedule!.id))?.nextFireAt).not.toBe(tick);
    expect(await app.scheduler.runDue()).toBe(0);
  });

  it('fills the schema defaults into a scheduled run and records a run whose input no longer fits as skipped', async () => {
    const { store } = platform.services;
    const other = await store.users.create({ name: 'free' });
    const automation = await store.automations.create(other.id, {
      name: 'defaults',
      language: 'javascript',
      code: 'return 1',
      inputSchema: { type: 'object', properties: { n: { type: 'number', default: 7 } } },
    });
    const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    await store.schedules.create(other.id, automation.id, {
      cron: '0 0 1 1 *',
      timeZone: 'UTC',
      input: { m: 1 },
      enabled: true,
      overlap: 'allow',
      catchUp: 'skip',
      nextFireAt: now,
    });
    await app.scheduler.runDue();
    const [run] = (await store.executions.list(other.id, { automationId: automation.id })).items;
    expect(run).toMatchObject({ status: 'queued', input: { input: { m: 1, n: 7 } } });
    await store.executions.finish(run!.id, { status: 'succeeded' });

    await store.automations.update(other.id, automation.id, {
      inputSchema: { type: 'object', required: ['z'] },
    });
    const s2 = await store.schedules.create(other.id, automation.id, {
      cron: '0 0 1 1 *',
      timeZone: 'UTC',
      input: {},
      enabled: true,
      overlap: 'allow',
      catchUp: 'skip',
      nextFireAt: now,
    });
    await app.scheduler.runDue();
    const skipped = (await store.executions.list(other.id, { automationId: automation.id })).items.find(
      (e) => e.triggerId === s2!.id,
    );
    expect(skipped).toMatchObject({
      status: 'skipped',
      automationVersion: 2,
      error: { code: 'invalid_input' },
    });
  });
});
