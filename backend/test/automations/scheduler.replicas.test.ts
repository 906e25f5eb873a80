import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from '../../src/api/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import {
  type Execution,
  migrate,
  type ScriptInput,
  terminalStatuses,
  type User,
} from '../../src/store/index.js';
import { startWorkerRuntime, type WorkerRuntime } from '../../src/worker/index.js';
import { letTimePass } from '../support/fixed-wait.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../support/services.js';

/**
 * Two replicas (each an API server with its schedule runner and a worker) on one PostgreSQL
 * database and one Redis prefix, as the chart runs them: every tick of a schedule gives exactly
 * one run, and after both are stopped for a while, catch-up and overlap do what they say.
 */

const misfireMs = 2000;

interface Replica {
  services: Services;
  server?: ApiServer;
  worker: WorkerRuntime;
}

let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
const prefix = freshRedisPrefix();
const replicas: Replica[] = [];
let user: User;

async function startReplica(): Promise<Replica> {
  const config = loadConfig('api', {
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    USER_CONCURRENCY: '50',
  });
  const services = await createServices(config, { logger: createLogger('silent') });
  const worker = startWorkerRuntime({
    services,
    executors: [
      {
        kind: 'script',
        async run({ execution }) {
          const input = execution.input as ScriptInput;
          // Longer than the tick interval, so the next tick finds it still running.
          if (input.code === 'slow') await letTimePass(2500);
          return { status: 'succeeded', result: null };
        },
      },
    ],
  });
  const replica: Replica = { services, worker };
  replica.server = await startApiServer(services, {
    host: '127.0.0.1',
    port: 0,
    scheduler: { misfireMs, maxSleepMs: 500 },
  });
  replicas.push(replica);
  return replica;
}

async function stopSchedulers(): Promise<void> {
  for (const replica of replicas) {
    await replica.server?.drain();
    replica.server = undefined;
  }
}

async function restartSchedulers(): Promise<void> {
  for (const replica of replicas) {
    replica.server = await startApiServer(replica.services, {
      host: '127.0.0.1',
      port: 0,
      scheduler: { misfireMs, maxSleepMs: 500 },
    });
  }
}

async function runsOf(automationId: string): Promise<Execution[]> {
  const store = replicas[0]!.services.store;
  const all: Execution[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.executions.list(user.id, { automationId, limit: 200, cursor });
    all.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all.sort((a, b) => (a.scheduledFor ?? '').localeCompare(b.scheduledFor ?? ''));
}

async function scheduled(
  code: string,
  policies: { overlap: 'skip' | 'allow'; catchUp: 'skip' | 'once' },
): Promise<{ automationId: string; scheduleId: string }> {
  const { store } = replicas[0]!.services;
  const automation = await store.automations.create(user.id, { name: code, language: 'javascript', code });
  const schedule = await store.schedules.create(user.id, automation.id, {
    cron: '* * * * * *',
    timeZone: 'UTC',
    enabled: true,
    ...policies,
    nextFireAt: new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000).toISOString(),
  });
  return { automationId: automation.id, scheduleId: schedule!.id };
}

beforeAll(async () => {
  database = await freshPostgresDatabase();
  const first = await startReplica();
  await migrate(first.services.store.db);
  await startReplica();
  user = await first.services.store.users.create({ name: 'scheduler-test' });
});

afterAll(async () => {
  for (const replica of replicas) {
    await replica.server?.drain();
    await replica.worker.stop(500);
    await replica.services.close();
  }
  await database?.drop();
});

describe('schedules across two replicas', () => {
  it('fires a per-second schedule exactly once per tick for 20 s', async () => {
    const { automationId, scheduleId } = await scheduled('tick', { overlap: 'allow', catchUp: 'skip' });
    const startedAt = Date.now();
    // The observation period itself: ticks are counted over it.
    await letTimePass(20_000);
    await replicas[0]!.services.store.schedules.update(user.id, automationId, scheduleId, {
      cron: '* * * * * *',
      timeZone: 'UTC',
      enabled: false,
      overlap: 'allow',
      catchUp: 'skip',
      nextFireAt: null,
    });
    const disabledAt = Date.now();
    // The runs started by then have finished.
    await expect
      .poll(async () => (await runsOf(automationId)).every((r) => terminalStatuses.includes(r.status)), {
        timeout: 10_000,
        interval: 200,
      })
      .toBe(true);
    const runs = await runsOf(automationId);
    const ticks = runs.map((r) => Date.parse(r.scheduledFor!));
    // One run per tick, no tick twice, no tick left out between the first and the last.
    expect(new Set(ticks).size).toBe(ticks.length);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1000);
    expect(ticks.length).toBeGreaterThanOrEqual(Math.floor((disabledAt - startedAt) / 1000) - 2);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  }, 60_000);

  it('after both replicas stopped: catch-up once runs one, skip records the missed ticks; overlap skip skips', async () => {
    const once = await scheduled('once', { overlap: 'allow', catchUp: 'once' });
    const skip = await scheduled('skip', { overlap: 'allow', catchUp: 'skip' });
    const slow = await scheduled('slow', { overlap: 'skip', catchUp: 'skip' });
    // A history before the downtime: a few ticks of each, and the slow one overlapped once.
    await expect
      .poll(
        async () => {
          const [onceRuns, skipRuns, slowRuns] = await Promise.all(
            [once, skip, slow].map((s) => runsOf(s.automationId)),
          );
          return (
            onceRuns!.length >= 2 &&
            skipRuns!.length >= 2 &&
            slowRuns!.some((r) => r.status === 'skipped' && r.error?.code === 'overlap')
          );
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true);
    await stopSchedulers();
    const stoppedAt = Date.now();
    const before = {
      once: (await runsOf(once.automationId)).length,
      skip: (await runsOf(skip.automationId)).length,
    };
    // The downtime: ticks have to be missed.
    await letTimePass(6000);
    await restartSchedulers();
    // Back: the missed tick handled (run or recorded) and a regular tick after it, for each.
    await expect
      .poll(
        async () =>
          (await runsOf(once.automationId)).length > before.once + 1 &&
          (await runsOf(skip.automationId)).length > before.skip + 1,
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true);
    await stopSchedulers();

    // Ticks go on second by second except for one jump over the downtime; the tick after the jump
    // is the newest missed one, which catch-up "once" runs and "skip" records as skipped.
    const afterJump = (runs: Execution[]) => {
      const ticks = runs.map((r) => Date.parse(r.scheduledFor!));
      const jumps = ticks.flatMap((t, i) => (i > 0 && t - ticks[i - 1]! > 1000 ? [i] : []));
      expect(jumps, JSON.stringify(runs.map((r) => [r.scheduledFor, r.status]))).toHaveLength(1);
      expect(ticks[jumps[0]!]! - ticks[jumps[0]! - 1]!).toBeGreaterThan(3000);
      return runs[jumps[0]!]!;
    };
    const onceRuns = await runsOf(once.automationId);
    expect(afterJump(onceRuns).status).not.toBe('skipped');
    expect(onceRuns.length).toBeGreaterThan(before.once + 1);

    const skipRuns = await runsOf(skip.automationId);
    expect(afterJump(skipRuns)).toMatchObject({ status: 'skipped', error: { code: 'missed' } });
    expect(skipRuns.length).toBeGreaterThan(before.skip + 1);
    expect(Date.now() - stoppedAt).toBeGreaterThan(6000);

    const slowRuns = await runsOf(slow.automationId);
    const overlaps = slowRuns.filter((r) => r.status === 'skipped' && r.error?.code === 'overlap');
    expect(overlaps.length).toBeGreaterThan(0);
    // Never two runs of the slow schedule active together.
    const ran = slowRuns.filter((r) => r.startedAt && r.finishedAt);
    for (let i = 1; i < ran.length; i++) {
      expect(Date.parse(ran[i]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(ran[i - 1]!.finishedAt!));
    }
    const ticks = [...onceRuns, ...skipRuns, ...slowRuns].map((r) => `${r.triggerId}@${r.scheduledFor}`);
    expect(new Set(ticks).size).toBe(ticks.length);
  }, 60_000);
});
