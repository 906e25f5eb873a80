import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Execution } from '../../src/store/types.js';
import {
  ApiClient,
  type SseEvent,
  startTestPlatform,
  type TestPlatform,
  terminalOf,
} from './support/platform.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';

/**
 * Worker replicas as real OS processes (`ipa worker`) against one PostgreSQL and Redis: a worker
 * killed with SIGKILL mid-execution has its execution completed by another replica after the
 * stalled interval; a worker stopped with SIGTERM hands its execution back and it finishes.
 */
describe('worker processes: crash and shutdown (distributed)', () => {
  let platform: TestPlatform;
  let user: ApiClient;
  const processes: WorkerProcess[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform({
      workers: 0,
      env: { QUEUE_STALLED_INTERVAL_MS: '1500', WORKER_GRACE_SECONDS: '0' },
    });
    user = await new ApiClient(platform.url, platform.adminToken).createUser('crash-user');
  }, 60_000);
  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await platform?.close();
  });

  async function worker(name: string): Promise<WorkerProcess> {
    const started = await spawnWorker({
      ...platform.env,
      LOG_LEVEL: 'warn',
      SANDBOX_ROOT: path.join(platform.dataDir, `sandbox-${name}`),
    });
    processes.push(started);
    return started;
  }

  /** A script that runs long enough to be interrupted, then succeeds. */
  const slowScript = {
    language: 'javascript',
    code: `console.log('begin'); await new Promise((r) => setTimeout(r, 6000)); console.log('end'); return 'finished';`,
  };

  /** The worker running the execution, once the script's first output has come. */
  async function startedOn(executionId: string, events: SseEvent[]): Promise<string> {
    await vi.waitFor(
      () =>
        expect(
          events.map((e) => e.type),
          `execution ${executionId} did not start`,
        ).toContain('output'),
      { timeout: 20_000, interval: 20 },
    );
    const started = events.filter((e) => e.type === 'execution.started').at(-1);
    return String(started?.data.workerId);
  }

  it('SIGKILL mid-execution: another worker completes it after the stalled interval', async () => {
    const first = await worker('a');
    const execution = await user.ok<Execution>('POST', '/executions', slowScript);
    const events: SseEvent[] = [];
    const reading = user.events(execution.id, { timeoutMs: 60_000, onEvent: (e) => events.push(e) });
    expect(await startedOn(execution.id, events)).toBe(first.workerId);

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const second = await worker('b');

    await reading;
    const end = terminalOf(events);
    expect(end?.type).toBe('execution.completed');
    const starts = events.filter((e) => e.type === 'execution.started');
    expect(starts.at(-1)?.data.workerId).toBe(second.workerId);
    // The abandoned attempt is marked superseded before the re-run starts.
    const superseded = events.findIndex((e) => e.type === 'execution.superseded');
    expect(superseded).toBeGreaterThan(0);
    expect(superseded).toBeLessThan(events.indexOf(starts.at(-1) as SseEvent));
    const stored = await user.ok<Execution>('GET', `/executions/${execution.id}`);
    expect(stored.status).toBe('succeeded');
    expect(stored.attempt).toBeGreaterThanOrEqual(2);
    expect(stored.result).toMatchObject({ result: 'finished' });
  }, 90_000);

  it('SIGTERM mid-execution: the worker exits promptly and the execution finishes on another', async () => {
    await worker('c');
    const running = processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    expect(running).toHaveLength(2);
    const execution = await user.ok<Execution>('POST', '/executions', {
      ...slowScript,
      code: slowScript.code.replace('6000', '8000'),
    });
    const events: SseEvent[] = [];
    const reading = user.events(execution.id, { timeoutMs: 60_000, onEvent: (e) => events.push(e) });
    const ranOn = await startedOn(execution.id, events);
    const victim = running.find((p) => p.workerId === ranOn);
    const replacement = running.find((p) => p.workerId !== ranOn);
    expect(victim).toBeDefined();

    const termAt = performance.now();
    victim?.child.kill('SIGTERM');
    const exit = await victim?.exited;
    expect(exit?.code).toBe(0);
    expect(performance.now() - termAt).toBeLessThan(10_000);

    await reading;
    expect(terminalOf(events)?.type).toBe('execution.completed');
    expect(events.filter((e) => e.type === 'execution.started').at(-1)?.data.workerId).toBe(
      replacement?.workerId,
    );
    expect((await user.ok<Execution>('GET', `/executions/${execution.id}`)).status).toBe('succeeded');

    // Nothing is left running.
    const active = await user.ok<{ items: Execution[] }>('GET', '/executions?status=running');
    expect(active.items).toEqual([]);
  }, 90_000);
});
