import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { ExecutionEvent } from '../../src/events/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import { type Execution, migrate, type User } from '../../src/store/index.js';
import { tempDirForChildren } from '../support/child-tmp.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../support/services.js';

/**
 * No job lost, with real `ipa worker` processes on PostgreSQL + Redis: a worker killed with
 * SIGKILL or stopped with SIGTERM mid-execution leaves the execution to another worker, which
 * finishes it as the next attempt after an `execution.superseded` event.
 */
const builtMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'main.js');
const present = existsSync(builtMain);
if (!present)
  console.info(`worker process tests skipped: ${builtMain} is missing (npm test builds it first)`);

describe.skipIf(!present)('worker processes: SIGKILL and SIGTERM mid-execution', () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let services: Services;
  let env: NodeJS.ProcessEnv;
  let sandboxRoot: string;
  let childTmp: Awaited<ReturnType<typeof tempDirForChildren>>;
  let user: User;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    sandboxRoot = await mkdtemp(path.join(os.tmpdir(), 'ipa-worker-proc-'));
    await chmod(sandboxRoot, 0o711);
    childTmp = await tempDirForChildren();
    env = {
      PATH: process.env.PATH,
      TMPDIR: childTmp.path,
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: freshRedisPrefix(),
      SANDBOX_ROOT: sandboxRoot,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      QUEUE_STALLED_INTERVAL_MS: '2000',
      WORKER_GRACE_SECONDS: '1',
    };
    services = await createServices(loadConfig('api', env), { logger: createLogger('silent') });
    await migrate(services.store.db);
    user = await services.store.users.create({ name: 'worker-processes' });
  });

  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await services?.close();
    await database?.drop();
    await rm(sandboxRoot, { recursive: true, force: true });
    await childTmp?.remove();
  });

  async function startWorker(): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
    const child = spawn(process.execPath, [builtMain, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await vi.waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}:\n${text}`);
        if (!/metrics on http/.test(text)) throw new Error(`worker did not start:\n${text}`);
      },
      { timeout: 60_000, interval: 50 },
    );
    return { child, exited };
  }

  async function submit(code: string): Promise<Execution> {
    const execution = await services.store.executions.create({
      userId: user.id,
      kind: 'script',
      input: { language: 'javascript', code },
    });
    await services.events.append(execution.id, 'execution.queued', {
      executionId: execution.id,
      kind: 'script',
    });
    await services.queue.enqueue({ executionId: execution.id, userId: user.id, kind: 'script' });
    return execution;
  }

  async function waitFor(id: string, statuses: string[], timeoutMs: number): Promise<Execution> {
    return vi.waitFor(
      async () => {
        const execution = await services.store.executions.get(id);
        if (execution && statuses.includes(execution.status)) return execution;
        throw new Error(`execution ${id} is ${execution?.status}, not ${statuses}`);
      },
      { timeout: timeoutMs, interval: 50 },
    );
  }

  /** Running, with its `execution.started` appended (the kill must not land between the two). */
  async function waitForStarted(id: string, timeoutMs: number): Promise<void> {
    await expect
      .poll(async () => (await allEvents(id)).some((e) => e.type === 'execution.started'), {
        timeout: timeoutMs,
        interval: 50,
        message: `execution ${id} did not start`,
      })
      .toBe(true);
  }

  async function allEvents(id: string): Promise<ExecutionEvent[]> {
    return services.events.read(id, undefined, { count: 1000 });
  }

  function expectRerun(events: ExecutionEvent[], previousAttempt: number) {
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('execution.queued');
    const superseded = types.indexOf('execution.superseded');
    expect(superseded).toBeGreaterThan(1);
    expect(events[superseded]?.data).toEqual({ attempt: previousAttempt });
    expect(events[superseded + 1]).toMatchObject({
      type: 'execution.started',
      data: { attempt: previousAttempt + 1 },
    });
    expect(
      types.filter((t) => ['execution.completed', 'execution.failed', 'execution.cancelled'].includes(t)),
    ).toEqual(['execution.completed']);
    expect(types.at(-1)).toBe('execution.completed');
  }

  it('a worker killed with SIGKILL has its execution finished by another one', async () => {
    const first = await startWorker();
    const execution = await submit('await new Promise((r) => setTimeout(r, 1500)); return "done";');
    await waitForStarted(execution.id, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startWorker();
    try {
      const finished = await waitFor(execution.id, ['succeeded', 'failed', 'cancelled', 'timed_out'], 60_000);
      expect(finished).toMatchObject({ status: 'succeeded', attempt: 2 });
      expectRerun(await allEvents(execution.id), 1);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 180_000);

  it('a worker stopped with SIGTERM hands its execution back; another one finishes it', async () => {
    const first = await startWorker();
    const execution = await submit('await new Promise((r) => setTimeout(r, 3000)); return "done";');
    await waitForStarted(execution.id, 30_000);
    const stopping = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // WORKER_GRACE_SECONDS=1, then the hand-back.
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(await services.store.executions.get(execution.id)).toMatchObject({
      status: 'running',
      attempt: 1,
    });

    const second = await startWorker();
    try {
      const finished = await waitFor(execution.id, ['succeeded', 'failed', 'cancelled', 'timed_out'], 60_000);
      expect(finished).toMatchObject({ status: 'succeeded', attempt: 2 });
      expectRerun(await allEvents(execution.id), 1);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 180_000);
});
