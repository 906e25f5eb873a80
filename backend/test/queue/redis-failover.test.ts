import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryBlobStore } from '../../src/blobs/index.js';
import { loadConfig } from '../../src/config/index.js';
import { terminalEventTypes } from '../../src/events/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import { closeRedisClient, createRedisClient } from '../../src/queue/index.js';
import type { Services } from '../../src/services.js';
import { type Execution, migrate, terminalStatuses } from '../../src/store/index.js';
import { startWorkerRuntime, type WorkerRuntime } from '../../src/worker/index.js';
import { letTimePass } from '../support/fixed-wait.js';
import { type SentinelTopology, startSentinelTopology } from '../support/redis-sentinel.js';
import { freshPostgresDatabase, freshRedisPrefix } from '../support/services.js';
import { testExecutor } from '../worker/runtime.scenarios.js';

/**
 * A Redis failover under load (focused version; the long one is the reliability scenario
 * `redis-failover`): the primary is SIGKILLed while executions are submitted and run. Every
 * execution still ends exactly once, every event stream reaches its end, a reader blocked across
 * the failover resumes, and the worker's heartbeat is back.
 */
describe('Redis failover through Sentinel', { timeout: 180_000 }, () => {
  let topology: SentinelTopology;
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let services: Services;
  let runtime: WorkerRuntime;

  beforeAll(async () => {
    topology = await startSentinelTopology();
    database = await freshPostgresDatabase();
    const config = loadConfig('worker', {
      DATABASE_URL: database.url,
      // Only password, database and TLS come from the URL; the host is the sentinels' answer.
      REDIS_URL: 'redis://ignored-by-sentinel:6379/0',
      REDIS_SENTINELS: topology.sentinels,
      REDIS_SENTINEL_MASTER: topology.masterName,
      REDIS_PREFIX: freshRedisPrefix(),
      QUEUE_STALLED_INTERVAL_MS: '2000',
      QUEUE_RECONCILE_INTERVAL_MS: '1000',
      QUEUE_RECONCILE_AGE_MS: '2000',
      LOG_LEVEL: 'silent',
    });
    services = await createServices(config, {
      logger: createLogger('silent'),
      blobs: createMemoryBlobStore(),
    });
    await migrate(services.store.db);
    runtime = startWorkerRuntime({
      services,
      executors: [testExecutor],
      timing: { heartbeatMs: 200, cancelPollMs: 200, terminalGraceMs: 500 },
    });
  }, 90_000);
  afterAll(async () => {
    await runtime?.stop();
    await services?.close();
    await database?.drop();
    await topology?.stop();
  });

  it('keeps a connection that was disconnected while it asked the sentinels for the primary', async () => {
    // What ioredis's failover detector does on +switch-master while the client is still resolving
    // the primary after the old one dropped its socket: the resolution is cut short and ioredis
    // ends the client for good unless the platform connects it again.
    const client = createRedisClient('redis://ignored-by-sentinel:6379/0', {
      sentinel: { sentinels: services.config.redis!.sentinel!.sentinels, name: topology.masterName },
      logger: createLogger('silent'),
      connectionName: 'failover-race',
      redis: { lazyConnect: true },
    });
    try {
      const connecting = client.connect().catch(() => 'cut short');
      expect(client.status).toBe('connecting');
      (client as unknown as { connector: { disconnect(): void } }).connector.disconnect();
      expect(await connecting).toBe('cut short');
      await expect.poll(() => client.status, { timeout: 10_000 }).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      await closeRedisClient(client);
    }
  });

  it('ends every execution exactly once and resumes every stream across a killed primary', async () => {
    const user = await services.store.users.create({ name: 'failover' });
    const submitted: Execution[] = [];
    let enqueueFailures = 0;
    const submit = async (code: string) => {
      const execution = await services.store.executions.create({
        userId: user.id,
        kind: 'script',
        input: { language: 'javascript', code },
      });
      submitted.push(execution);
      try {
        await services.queue.enqueue({ executionId: execution.id, userId: user.id, kind: 'script' });
      } catch {
        // Redis is failing over: the API would answer 503 here; the row is the record, the
        // queue repair puts the job back.
        enqueueFailures++;
      }
    };

    // A reader blocked on a stream whose execution ends only after the failover.
    await submit('sleep:4000');
    const followed = submitted[0]!;
    const follower = (async () => {
      let last: string | undefined;
      const types: string[] = [];
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        try {
          const batch = await services.events.read(followed.id, last, { blockMs: 500 });
          for (const event of batch) {
            types.push(event.type);
            last = event.id;
          }
          if (types.some((t) => terminalEventTypes.includes(t as never))) return types;
        } catch {
          // Redis is failing over: a reader's retry pause, nothing to wait for.
          await letTimePass(200);
        }
      }
      return types;
    })();

    const load = (async () => {
      for (let i = 0; i < 45; i++) {
        await submit(`sleep:${50 + (i % 5) * 20}`);
        // Paced on purpose: the submissions span the failover instead of all landing before it.
        await letTimePass(60);
      }
    })();
    // The primary dies mid-load: once the followed execution runs and a third of the load is in.
    const followedStatus = async () => (await services.store.executions.get(followed.id))?.status;
    await expect.poll(followedStatus, { timeout: 30_000 }).toBe('running');
    await expect.poll(() => submitted.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(16);
    const killed = await topology.killPrimary();
    await load;

    // Every execution ends, once. On failure, say where each unfinished execution is stuck: its
    // row, its job, and (last line) the worker and the queue.
    const stuck = async () => {
      const rows = await Promise.all(submitted.map((e) => services.store.executions.get(e.id)));
      const unfinished = submitted.filter((_, i) => !terminalStatuses.includes(rows[i]!.status));
      if (unfinished.length === 0) return [];
      const where = await Promise.all(
        unfinished.map(async (e) => {
          const row = await services.store.executions.get(e.id);
          return `${e.id} row=${row?.status}/attempt ${row?.attempt} job=${await services.queue.jobState(e.id)}`;
        }),
      );
      const counts = await services.queue.counts();
      return [...where, `worker ${JSON.stringify(runtime.figures())}, queue ${JSON.stringify(counts)}`];
    };
    await expect.poll(stuck, { timeout: 120_000, interval: 500 }).toEqual([]);
    expect(await topology.currentPrimary()).not.toBe(killed);
    for (const execution of submitted) {
      const row = await services.store.executions.get(execution.id);
      expect([execution.id, row?.status, row?.error]).toEqual([execution.id, 'succeeded', null]);
      // The stream, read from its start, ends with exactly one terminal event.
      const events = await vi.waitFor(
        async () => {
          const read = await services.events.read(execution.id, undefined, { blockMs: 0 });
          expect(
            read.some((e) => terminalEventTypes.includes(e.type)),
            'a terminal event',
          ).toBe(true);
          return read;
        },
        { timeout: 5000, interval: 250 },
      );
      expect(events.filter((e) => terminalEventTypes.includes(e.type))).toHaveLength(1);
    }
    const followedTypes = await follower;
    expect(followedTypes.filter((t) => terminalEventTypes.includes(t as never))).toHaveLength(1);
    // The worker's heartbeat reaches the new primary.
    await expect
      .poll(async () => (await services.workers.list()).map((w) => w.workerId), { timeout: 15_000 })
      .toContain(runtime.workerId);
    console.info(
      `redis failover: ${submitted.length} executions, ${enqueueFailures} enqueues refused during the failover`,
    );
  });
});
