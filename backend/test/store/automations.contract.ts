import { describe, expect, it } from 'vitest';
import {
  type Database,
  InvalidCursorError,
  type ScheduleSettings,
  type Store,
  type User,
  VersionConflictError,
} from '../../src/store/index.js';

const unknownId = '00000000-0000-4000-8000-000000000000';
/** Timestamps are kept to the millisecond: records compared by creation order are made in distinct ones. */
const script = { language: 'javascript' as const, code: 'return 1' };

/**
 * Automations, versions, schedules, webhook triggers and the executions they start; part of the
 * database contract (run on both drivers by `databaseContract`).
 */
export function automationContract(
  env: () => { store: Store; db: Database; newUser: (label?: string) => Promise<User> },
): void {
  const schedule = (over: Partial<ScheduleSettings> = {}): ScheduleSettings => ({
    cron: '*/5 * * * *',
    timeZone: 'Asia/Taipei',
    input: { n: 1 },
    enabled: true,
    overlap: 'skip',
    catchUp: 'once',
    nextFireAt: '2030-01-01T00:00:00.000Z',
    ...over,
  });

  describe('automations', () => {
    it('creates version 1 and stores a new immutable version on every content change', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const created = await store.automations.create(user.id, {
        name: 'Nightly report',
        description: 'sums things',
        ...script,
        inputSchema: { type: 'object', properties: { n: { type: 'number', default: 2 } } },
      });
      expect(created).toMatchObject({
        userId: user.id,
        name: 'Nightly report',
        description: 'sums things',
        enabled: true,
        version: 1,
        language: 'javascript',
        code: 'return 1',
        inputSchema: { type: 'object' },
      });
      const renamed = await store.automations.update(user.id, created.id, { name: 'Renamed' });
      expect(renamed).toMatchObject({ name: 'Renamed', version: 1 });
      const v2 = await store.automations.update(user.id, created.id, {
        code: 'return 2',
        expectedVersion: 1,
      });
      expect(v2).toMatchObject({
        version: 2,
        code: 'return 2',
        language: 'javascript',
        inputSchema: { type: 'object' },
      });
      const v3 = await store.automations.update(user.id, created.id, {
        language: 'python',
        code: 'x',
        inputSchema: null,
      });
      expect(v3).toMatchObject({ version: 3, language: 'python', inputSchema: null });
      await expect(
        store.automations.update(user.id, created.id, { code: 'stale', expectedVersion: 2 }),
      ).rejects.toBeInstanceOf(VersionConflictError);
      expect(await store.automations.version(user.id, created.id, 1)).toMatchObject({
        version: 1,
        code: 'return 1',
        authorId: user.id,
      });
      expect(await store.automations.version(user.id, created.id, 9)).toBeNull();
      const pages = [];
      let cursor: string | undefined;
      do {
        const page = await store.automations.versions(user.id, created.id, { limit: 2, cursor });
        pages.push(...(page?.items ?? []));
        cursor = page?.nextCursor ?? undefined;
      } while (cursor);
      expect(pages.map((v) => v.version)).toEqual([3, 2, 1]);
      await expect(
        store.automations.versions(user.id, created.id, { cursor: 'bad!' }),
      ).rejects.toBeInstanceOf(InvalidCursorError);
    });

    it('numbers concurrent saves one after another without losing any', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 'race', ...script });
      await Promise.all(
        Array.from({ length: 5 }, (_, i) => store.automations.update(user.id, a.id, { code: `return ${i}` })),
      );
      const page = await store.automations.versions(user.id, a.id);
      expect(page?.items.map((v) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
    });

    it("hides another user's automations, versions, schedules and triggers", async () => {
      const { store, newUser } = env();
      const owner = await newUser();
      const other = await newUser();
      const a = await store.automations.create(owner.id, { name: 'mine', ...script });
      expect(await store.automations.get(other.id, a.id)).toBeNull();
      expect(await store.automations.update(other.id, a.id, { code: 'x' })).toBeNull();
      expect(await store.automations.setEnabled(other.id, a.id, false)).toBeNull();
      expect(await store.automations.delete(other.id, a.id)).toBe(false);
      expect(await store.automations.versions(other.id, a.id)).toBeNull();
      expect(await store.automations.version(other.id, a.id, 1)).toBeNull();
      expect((await store.automations.list(other.id)).items).toEqual([]);
      expect(await store.schedules.create(other.id, a.id, schedule())).toBeNull();
      expect(await store.schedules.list(other.id, a.id)).toBeNull();
      expect(await store.webhooks.create(other.id, a.id, { name: 'x', secret: 'a'.repeat(32) })).toBeNull();
      expect(await store.webhooks.list(other.id, a.id)).toBeNull();
      const s = await store.schedules.create(owner.id, a.id, schedule());
      const t = await store.webhooks.create(owner.id, a.id, { name: 'hook', secret: 'a'.repeat(32) });
      expect(await store.schedules.get(other.id, a.id, s!.id)).toBeNull();
      expect(await store.schedules.update(other.id, a.id, s!.id, schedule())).toBeNull();
      expect(await store.schedules.delete(other.id, a.id, s!.id)).toBe(false);
      expect(await store.webhooks.get(other.id, a.id, t!.id)).toBeNull();
      expect(await store.webhooks.setEnabled(other.id, a.id, t!.id, false)).toBeNull();
      expect(await store.webhooks.rotate(other.id, a.id, t!.id, 'b'.repeat(32))).toBeNull();
      expect(await store.webhooks.delete(other.id, a.id, t!.id)).toBe(false);
      await expect(
        store.executions.create({
          userId: other.id,
          kind: 'script',
          input: script,
          origin: { automationId: a.id, automationVersion: 1, trigger: 'api' },
        }),
      ).rejects.toThrow(/does not exist/);
      for (const bad of ['nope', unknownId]) {
        expect(await store.automations.get(owner.id, bad)).toBeNull();
        expect(await store.schedules.get(owner.id, a.id, bad)).toBeNull();
        expect(await store.webhooks.target(bad)).toBeNull();
      }
    });

    it('lists newest first with search, paging, the last run and the next tick', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const names = ['Alpha report', 'beta sync', 'Gamma REPORT 100%'];
      const made = [];
      for (const name of names) {
        made.push(await store.automations.create(user.id, { name, ...script }));
      }
      const all = await store.automations.list(user.id, { limit: 2 });
      expect(all.items.map((a) => a.name)).toEqual(['Gamma REPORT 100%', 'beta sync']);
      const rest = await store.automations.list(user.id, { limit: 2, cursor: all.nextCursor! });
      expect(rest.items.map((a) => a.name)).toEqual(['Alpha report']);
      expect(rest.nextCursor).toBeNull();
      expect((await store.automations.list(user.id, { search: 'report' })).items).toHaveLength(2);
      expect((await store.automations.list(user.id, { search: '100%' })).items.map((a) => a.name)).toEqual([
        'Gamma REPORT 100%',
      ]);
      expect((await store.automations.list(user.id, { search: '_' })).items).toEqual([]);
      const target = made[1]!;
      const run = await store.executions.create({
        userId: user.id,
        kind: 'script',
        input: script,
        origin: { automationId: target.id, automationVersion: 1, trigger: 'manual' },
      });
      await store.schedules.create(user.id, target.id, schedule({ nextFireAt: '2031-01-01T00:00:00.000Z' }));
      await store.schedules.create(user.id, target.id, schedule({ nextFireAt: '2030-06-01T00:00:00.000Z' }));
      await store.schedules.create(user.id, target.id, schedule({ enabled: false }));
      const listed = (await store.automations.list(user.id, { search: 'beta' })).items[0];
      expect(listed?.lastRun).toEqual({ id: run.id, status: 'queued', createdAt: run.createdAt });
      expect(listed?.nextFireAt).toBe('2030-06-01T00:00:00.000Z');
      await store.automations.setEnabled(user.id, target.id, false);
      expect((await store.automations.list(user.id, { search: 'beta' })).items[0]).toMatchObject({
        enabled: false,
        nextFireAt: null,
      });
    });

    it('deletes an automation with its versions, schedules and triggers, keeping its runs', async () => {
      const { store, db, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 'gone', ...script });
      await store.schedules.create(user.id, a.id, schedule());
      await store.webhooks.create(user.id, a.id, { name: 'h', secret: 'c'.repeat(32) });
      const run = await store.executions.create({
        userId: user.id,
        kind: 'script',
        input: script,
        origin: { automationId: a.id, automationVersion: 1, trigger: 'api' },
      });
      expect(await store.automations.delete(user.id, a.id)).toBe(true);
      expect(await store.automations.delete(user.id, a.id)).toBe(false);
      const left = await db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM automation_versions WHERE automation_id = $1)
              + (SELECT count(*) FROM automation_schedules WHERE automation_id = $1)
              + (SELECT count(*) FROM webhook_triggers WHERE automation_id = $1) AS n`,
        [a.id],
      );
      expect(Number(left.rows[0]?.n)).toBe(0);
      expect(await store.executions.get(run.id)).toMatchObject({ automationId: null, automationVersion: 1 });
    });
  });

  describe('schedules', () => {
    it('creates, updates, lists and deletes schedules; a disabled one has no tick', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 's', ...script });
      const s = await store.schedules.create(user.id, a.id, schedule());
      expect(s).toMatchObject({
        automationId: a.id,
        cron: '*/5 * * * *',
        timeZone: 'Asia/Taipei',
        input: { n: 1 },
        enabled: true,
        overlap: 'skip',
        catchUp: 'once',
        nextFireAt: '2030-01-01T00:00:00.000Z',
      });
      const off = await store.schedules.update(
        user.id,
        a.id,
        s!.id,
        schedule({ enabled: false, overlap: 'allow' }),
      );
      expect(off).toMatchObject({ enabled: false, overlap: 'allow', nextFireAt: null });
      expect(await store.schedules.list(user.id, a.id)).toEqual([off]);
      expect(await store.schedules.get(user.id, a.id, s!.id)).toEqual(off);
      expect(await store.schedules.delete(user.id, a.id, s!.id)).toBe(true);
      expect(await store.schedules.list(user.id, a.id)).toEqual([]);
    });

    it('lets exactly one caller claim a due tick, and only of enabled automations', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 'due', ...script });
      const tick = new Date(Date.now() - 1000).toISOString();
      const s = await store.schedules.create(user.id, a.id, schedule({ nextFireAt: tick }));
      const due = (await store.schedules.due(new Date(), 1000)).filter((d) => d.id === s!.id);
      expect(due).toEqual([
        expect.objectContaining({
          id: s!.id,
          userId: user.id,
          version: 1,
          language: 'javascript',
          code: 'return 1',
        }),
      ]);
      expect((await store.schedules.nextTick()) ?? '').not.toBe('');
      const next = new Date(Date.now() + 60_000).toISOString();
      const claims = await Promise.all(
        Array.from({ length: 5 }, () => store.schedules.claim(s!.id, tick, next)),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect((await store.schedules.get(user.id, a.id, s!.id))?.nextFireAt).toBe(next);
      await store.automations.setEnabled(user.id, a.id, false);
      await store.schedules.setNextTicks(a.id, new Map([[s!.id, tick]]));
      expect((await store.schedules.due(new Date(), 1000)).some((d) => d.id === s!.id)).toBe(false);
      await store.schedules.setNextTicks(a.id, new Map([[s!.id, null]]));
      expect((await store.schedules.get(user.id, a.id, s!.id))?.nextFireAt).toBeNull();
    });

    it('keeps one run per tick of a schedule, and records skipped ticks with their reason', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 'tick', ...script });
      const s = await store.schedules.create(user.id, a.id, schedule());
      const origin = {
        automationId: a.id,
        automationVersion: 1,
        trigger: 'schedule' as const,
        triggerId: s!.id,
        scheduledFor: '2030-01-01T00:00:00.000Z',
      };
      const run = await store.executions.create({ userId: user.id, kind: 'script', input: script, origin });
      expect(run).toMatchObject({
        status: 'queued',
        trigger: 'schedule',
        triggerId: s!.id,
        scheduledFor: origin.scheduledFor,
      });
      await expect(
        store.executions.create({ userId: user.id, kind: 'script', input: script, origin }),
      ).rejects.toThrow();
      expect(await store.executions.countActiveForTrigger(s!.id)).toBe(1);
      const skipped = await store.executions.create({
        userId: user.id,
        kind: 'script',
        input: script,
        origin: { ...origin, scheduledFor: '2030-01-01T00:05:00.000Z' },
        skipped: { code: 'overlap', message: 'the previous run is still active' },
      });
      expect(skipped).toMatchObject({
        status: 'skipped',
        error: { code: 'overlap' },
        finishedAt: expect.any(String),
      });
      expect(await store.executions.countActiveForTrigger(s!.id)).toBe(1);
      expect(await store.executions.finish(skipped.id, { status: 'succeeded' })).toBe(false);
      const bySchedule = await store.executions.list(user.id, { automationId: a.id, trigger: 'schedule' });
      expect(bySchedule.items.map((e) => e.id)).toEqual([skipped.id, run.id]);
      expect(
        (await store.executions.list(user.id, { automationId: a.id, trigger: 'webhook' })).items,
      ).toEqual([]);
      expect((await store.executions.list(user.id, { automationId: 'nope' })).items).toEqual([]);
    });
  });

  describe('webhook triggers', () => {
    it('creates, disables, rotates and deletes triggers; the secret is only in the target', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 'w', ...script });
      const t = await store.webhooks.create(user.id, a.id, { name: 'GitHub', secret: 's'.repeat(32) });
      expect(t).toEqual({
        id: expect.any(String),
        automationId: a.id,
        name: 'GitHub',
        enabled: true,
        createdAt: expect.any(String),
        rotatedAt: null,
      });
      expect(JSON.stringify(await store.webhooks.list(user.id, a.id))).not.toContain('sss');
      expect(await store.webhooks.target(t!.id)).toMatchObject({
        secret: 's'.repeat(32),
        userId: user.id,
        automationEnabled: true,
      });
      expect(await store.webhooks.setEnabled(user.id, a.id, t!.id, false)).toMatchObject({ enabled: false });
      const rotated = await store.webhooks.rotate(user.id, a.id, t!.id, 'r'.repeat(32));
      expect(rotated?.rotatedAt).toEqual(expect.any(String));
      expect((await store.webhooks.target(t!.id))?.secret).toBe('r'.repeat(32));
      await expect(store.webhooks.rotate(user.id, a.id, t!.id, 'short')).rejects.toThrow(RangeError);
      expect(await store.webhooks.get(user.id, a.id, t!.id)).toEqual(rotated);
      expect(await store.webhooks.delete(user.id, a.id, t!.id)).toBe(true);
      expect(await store.webhooks.target(t!.id)).toBeNull();
    });

    it('remembers a signature once, across concurrent callers, and forgets it when it expires', async () => {
      const { store, newUser } = env();
      const user = await newUser();
      const a = await store.automations.create(user.id, { name: 'replay', ...script });
      const t = await store.webhooks.create(user.id, a.id, { name: 'h', secret: 'x'.repeat(32) });
      const later = new Date(Date.now() + 300_000);
      const results = await Promise.all(
        Array.from({ length: 4 }, () => store.webhooks.rememberSignature(t!.id, 'sig-1', later)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.webhooks.rememberSignature(t!.id, 'sig-2', new Date(Date.now() - 1000))).toBe(true);
      // Expired: forgotten at the next call, so it counts as new again.
      expect(await store.webhooks.rememberSignature(t!.id, 'sig-2', later)).toBe(true);
      expect(await store.webhooks.rememberSignature(t!.id, 'sig-1', later)).toBe(false);
    });
  });
}
