import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ApiServer, ensureAdmin, startApiServer } from '../../src/api/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createExecutors } from '../../src/engine/index.js';
import { createServices } from '../../src/platform.js';
import { createSandboxOrchestrator, type SandboxOrchestrator } from '../../src/sandbox/index.js';
import type { Services } from '../../src/services.js';
import { migrate } from '../../src/store/index.js';
import type { Execution } from '../../src/store/types.js';
import { startWorkerRuntime, type WorkerRuntime } from '../../src/worker/index.js';
import { ApiClient } from '../e2e/support/platform.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../support/services.js';

/**
 * The round-trip budget of one no-op script execution (docs/architecture.md, "Round-trip budget"),
 * counted so it cannot creep back: an API and a worker in this process on PostgreSQL and Redis.
 *
 * - PostgreSQL: every `query` of a `pg` client of the platform's database is one round trip (the
 *   driver sends one statement and waits for its answer; BEGIN and COMMIT count as statements).
 * - Redis: every command the server receives under the platform's key prefix, read with MONITOR;
 *   a MULTI … EXEC block and a script (EVALSHA) count as one, the commands a script runs inside
 *   the server are not round trips. Blocking waits for new work (BullMQ's BZPOPMIN) are idle
 *   time, not work, and are left out.
 *
 * Counted: from `POST /executions` (a warm token, a warm sandbox, a second execution of the user)
 * until the row is finished and its terminal event appended. The worker's background loops
 * (heartbeats, cancel polls, queue reconciler) and the schedule runner are slowed so they fall
 * outside the window; they do not depend on the number of executions.
 */
const budget = { postgres: 4, redis: 10 };

describe('round trips of a no-op script execution (PostgreSQL + Redis)', { timeout: 120_000 }, () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let dataDir: string;
  let api: Services;
  let server: ApiServer;
  let workerServices: Services;
  let orchestrator: SandboxOrchestrator & { shutdown(): Promise<void> };
  let runtime: WorkerRuntime;
  let client: ApiClient;
  let prefix: string;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ipa-round-trips-'));
    await fs.chmod(dataDir, 0o755);
    prefix = freshRedisPrefix();
    const adminToken = `ipa_test_admin_${randomBytes(16).toString('hex')}`;
    const env = {
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: '4',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '100000',
    };
    api = await createServices(loadConfig('api', env));
    await migrate(api.store.db);
    await ensureAdmin(api, adminToken);
    server = await startApiServer(api, { port: 0, host: '127.0.0.1', scheduler: { enabled: false } });
    const workerConfig = loadConfig('worker', { ...env, SANDBOX_ROOT: path.join(dataDir, 'sandbox') });
    workerServices = await createServices(workerConfig);
    orchestrator = await createSandboxOrchestrator({
      ...workerConfig.sandbox,
      logger: workerServices.logger,
    });
    runtime = startWorkerRuntime({
      services: workerServices,
      executors: createExecutors({ services: workerServices, orchestrator }),
      orchestrator,
      timing: {
        cancelPollMs: 600_000,
        heartbeatMs: 600_000,
        heartbeatTtlMs: 1_200_000,
        reconcileMs: 600_000,
      },
    });
    client = await new ApiClient(server.url, adminToken).createUser('counted');
  });

  afterAll(async () => {
    await runtime?.stop(0);
    await orchestrator?.shutdown();
    await workerServices?.close();
    await server?.drain();
    await api?.close();
    await database?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  const noop = { language: 'javascript', code: 'return 0' };

  /**
   * Runs one no-op and waits, on the test's own connections, until its row is finished and its
   * event stream ended and set to expire (the last step of the worker).
   */
  async function runNoop(watcher: pg.Client, redis: Redis): Promise<string> {
    const execution = await client.ok<Execution>('POST', '/executions', noop);
    const key = `${prefix}:events:${execution.id}`;
    await vi.waitFor(
      async () => {
        const { rows } = await watcher.query('SELECT status FROM executions WHERE id = $1', [execution.id]);
        expect(rows[0]?.status).toBe('succeeded');
        const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0];
        expect(last?.[1][1]).toBe('execution.completed');
        expect(await redis.pttl(key)).toBeGreaterThan(0);
      },
      { timeout: 20_000, interval: 5 },
    );
    return execution.id;
  }

  it(`stays within ${budget.postgres} PostgreSQL and ${budget.redis} Redis round trips`, async () => {
    const watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
    const redis = new Redis(redisUrl);
    let monitor: Redis | undefined;
    try {
      // Warm: the token cached, the user's sandbox started and its files listed once.
      await runNoop(watcher, redis);

      const statements: string[] = [];
      const original = pg.Client.prototype.query;
      const databaseName = new URL(database.url).pathname.slice(1);
      const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
        this: pg.Client,
        ...args: unknown[]
      ) {
        const self = this as pg.Client & { database?: string };
        if (self !== watcher && self.database === databaseName) {
          const first = args[0] as string | { text?: string };
          statements.push(typeof first === 'string' ? first : String(first?.text));
        }
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original);

      const commands: string[][] = [];
      monitor = await redis.monitor();
      const own = /addr=(\S+)/.exec(String(await redis.client('INFO')))?.[1];
      monitor.on('monitor', (_time: string, argv: string[], source: string) => {
        if (source.includes('lua') || source === own) return;
        if (!argv.some((arg) => arg.includes(prefix))) {
          if (['multi', 'exec'].includes(String(argv[0]).toLowerCase())) commands.push(argv);
          return;
        }
        commands.push(argv);
      });
      try {
        await runNoop(watcher, redis);
      } finally {
        spy.mockRestore();
      }
      const redisWork = countRedisRoundTrips(commands);
      expect(statements, statements.join('\n---\n')).toHaveLength(budget.postgres);
      expect(redisWork.length, redisWork.join('\n')).toBeLessThanOrEqual(budget.redis);
    } finally {
      await watcher.end();
      monitor?.disconnect();
      redis.disconnect();
    }
  });
});

/** Commands as round trips: a MULTI … EXEC block is one; blocking waits for work are left out. */
function countRedisRoundTrips(commands: readonly string[][]): string[] {
  const trips: string[] = [];
  let inMulti = false;
  for (const argv of commands) {
    const name = String(argv[0]).toLowerCase();
    if (name === 'multi') {
      inMulti = true;
      trips.push('multi/exec');
      continue;
    }
    if (name === 'exec') {
      inMulti = false;
      continue;
    }
    if (inMulti) continue;
    if (name === 'bzpopmin' || name === 'brpoplpush' || name === 'blmove') continue;
    trips.push(argv.slice(0, 2).join(' '));
  }
  return trips;
}
