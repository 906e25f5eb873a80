import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import { createSandboxOrchestrator, type ManagedSandboxOrchestrator } from '../../src/sandbox/index.js';
import type { Services } from '../../src/services.js';
import { migrate } from '../../src/store/index.js';
import {
  startWorkerRuntime,
  startWorkerServer,
  type WorkerRuntime,
  type WorkerServer,
} from '../../src/worker/index.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../support/services.js';

describe('worker health and metrics server (PostgreSQL + Redis)', () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let services: Services;
  let orchestrator: ManagedSandboxOrchestrator;
  let runtime: WorkerRuntime;
  let server: WorkerServer;
  let sandboxRoot: string;
  let spares: number;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    sandboxRoot = await mkdtemp(path.join(os.tmpdir(), 'ipa-worker-server-'));
    // A root worker's sandboxes run under unprivileged uids, which must traverse down to the root.
    await chmod(sandboxRoot, 0o711);
    const config = loadConfig('worker', {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: freshRedisPrefix(),
      SANDBOX_ROOT: sandboxRoot,
      LOG_LEVEL: 'silent',
    });
    services = await createServices(config, { logger: createLogger('silent') });
    await migrate(services.store.db);
    orchestrator = await createSandboxOrchestrator({ ...config.sandbox });
    // The warm spares start in the background (bwrap level): the figures below are read once
    // they are up, whatever the machine's speed.
    spares = orchestrator.isolation === 'bwrap' ? config.sandbox.warmSpares : 0;
    await vi.waitFor(() => expect(orchestrator.figures().sparesReady).toBe(spares), { timeout: 30_000 });
    runtime = startWorkerRuntime({ services, executors: [], orchestrator });
    server = await startWorkerServer({
      services,
      runtime,
      orchestrator,
      version: '9.9.9',
      host: '127.0.0.1',
      port: 0,
    });
  });

  afterAll(async () => {
    await runtime?.stop(0);
    await server?.close();
    await orchestrator?.shutdown();
    await services?.close();
    await database?.drop();
    await rm(sandboxRoot, { recursive: true, force: true });
  });

  const get = (route: string) => fetch(`${server.url}${route}`);

  it('answers liveness and readiness', async () => {
    const live = await get('/health/live');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('summarises the worker: isolation level, pool figures, running count', async () => {
    const response = await get('/health');
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'ok',
      role: 'worker',
      version: '9.9.9',
      checks: { database: 'ok', redis: 'ok' },
      isolation: orchestrator.isolation,
      isolationReason: orchestrator.isolationReason,
      running: 0,
      draining: false,
      workerId: runtime.workerId,
    });
    // Every process launched counts as a start, the spares too (and a spare replaced after a
    // failed start); no user has one yet.
    expect(body.pool).toMatchObject({ live: 0, busy: 0, sparesReady: spares });
    expect((body.pool as { starts: number }).starts).toBeGreaterThanOrEqual(spares);
  });

  it('serves Prometheus metrics with the sandbox gauges filled on scrape', async () => {
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain(`ipa_sandbox_isolation_level{level="${orchestrator.isolation}",role="worker"} 1`);
    expect(text).toMatch(/ipa_sandbox_pool\{figure="live",role="worker"\} 0/);
    expect(text).toContain('# TYPE ipa_executions_finished_total counter');
    expect(text).toMatch(/ipa_queue_depth\{state="waiting",role="worker"\} 0/);
  });

  it('turns not ready while draining', async () => {
    const draining = startWorkerRuntime({
      services,
      executors: [],
      orchestrator,
      workerId: 'draining-worker',
    });
    const drainingServer = await startWorkerServer({
      services,
      runtime: draining,
      version: '9.9.9',
      host: '127.0.0.1',
      port: 0,
    });
    try {
      expect((await fetch(`${drainingServer.url}/health/ready`)).status).toBe(200);
      await draining.stop(0);
      const ready = await fetch(`${drainingServer.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not_ready', reason: 'draining' });
      expect((await fetch(`${drainingServer.url}/health/live`)).status).toBe(200);
    } finally {
      await drainingServer.close();
    }
  });

  it('turns not ready within 5 s when the database goes away', async () => {
    await database.drop();
    await expect
      .poll(async () => (await get('/health/ready')).status, { timeout: 5_000, interval: 200 })
      .toBe(503);
    const body = (await (await get('/health/ready')).json()) as { reason: string };
    expect(body.reason).toMatch(/database/);
    expect(((await (await get('/health')).json()) as { status: string }).status).toBe('degraded');
  });
});
