import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerHeartbeat, WorkerRegistry } from '../../src/queue/index.js';

export function heartbeat(workerId: string, overrides: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    workerId,
    hostname: `pod-${workerId}`,
    pid: 4242,
    startedAt: '2026-01-01T00:00:00.000Z',
    at: new Date().toISOString(),
    isolation: 'process',
    concurrency: 4,
    running: 1,
    draining: false,
    pool: { live: 2, busy: 1, idle: 1 },
    ...overrides,
  };
}

/** The behaviour every `WorkerRegistry` must show. */
export function workerRegistryContract(
  name: string,
  create: () => Promise<{ registry: WorkerRegistry; cleanup(): Promise<void> }>,
): void {
  describe(`WorkerRegistry contract: ${name}`, () => {
    let registry: WorkerRegistry;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ registry, cleanup } = await create());
    });
    afterEach(() => cleanup());

    it('lists published heartbeats, the latest one per worker', async () => {
      expect(await registry.list()).toEqual([]);
      await registry.publish(heartbeat('w-b'), 10_000);
      await registry.publish(heartbeat('w-a', { running: 0 }), 10_000);
      await registry.publish(heartbeat('w-a', { running: 3, draining: true }), 10_000);
      const listed = await registry.list();
      expect(listed.map((h) => h.workerId)).toEqual(['w-a', 'w-b']);
      expect(listed[0]).toEqual(heartbeat('w-a', { running: 3, draining: true, at: listed[0]!.at }));
    });

    it('forgets a worker whose heartbeat expired, and keeps one that renews', async () => {
      const listed = async () => (await registry.list()).map((h) => h.workerId);
      // Published first, `w-lives` would expire no later than `w-dies` had its renewal not counted:
      // waiting for `w-dies` to go is then enough, no fixed wait.
      await registry.publish(heartbeat('w-lives'), 300);
      await registry.publish(heartbeat('w-dies'), 300);
      await registry.publish(heartbeat('w-lives'), 10_000);
      expect(await listed()).toEqual(['w-dies', 'w-lives']);
      await expect.poll(listed, { timeout: 5000, interval: 10 }).toEqual(['w-lives']);
    });

    it('removes a worker at once', async () => {
      await registry.publish(heartbeat('w-1'), 10_000);
      await registry.publish(heartbeat('w-2'), 10_000);
      await registry.remove('w-1');
      await registry.remove('never-seen');
      expect((await registry.list()).map((h) => h.workerId)).toEqual(['w-2']);
    });

    it('refuses a bad worker id or TTL', async () => {
      await expect(registry.publish(heartbeat('bad id with spaces'), 1000)).rejects.toThrow(/worker id/);
      await expect(registry.publish(heartbeat('w-1'), 0)).rejects.toThrow(/ttlMs/);
    });
  });
}
