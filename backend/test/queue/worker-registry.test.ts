import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createInProcessWorkerRegistry, createRedisWorkerRegistry } from '../../src/queue/index.js';
import { freshRedisPrefix, redisUrl } from '../support/services.js';
import { heartbeat, workerRegistryContract } from './worker-registry.contract.js';

const admin = new Redis(redisUrl);
afterAll(() => admin.quit());
const logger = pino({ level: 'silent' });

async function deleteKeys(prefix: string): Promise<void> {
  const keys = await admin.keys(`${prefix}:*`);
  if (keys.length > 0) await admin.del(...keys);
}

workerRegistryContract('in-process', async () => {
  const registry = createInProcessWorkerRegistry();
  return { registry, cleanup: () => registry.close() };
});

workerRegistryContract('Redis', async () => {
  const prefix = freshRedisPrefix();
  const registry = createRedisWorkerRegistry({ redisUrl, prefix, logger });
  return {
    registry,
    cleanup: async () => {
      await registry.close();
      await deleteKeys(prefix);
    },
  };
});

describe('Redis worker registry specifics', () => {
  it('keeps one key per worker with a PX TTL and an index that expired workers leave', async () => {
    const prefix = freshRedisPrefix();
    const registry = createRedisWorkerRegistry({ redisUrl, prefix, logger });
    try {
      await registry.publish(heartbeat('w-1'), 5000);
      const ttl = await admin.pttl(`${prefix}:workers:w-1`);
      expect(ttl).toBeGreaterThan(4000);
      expect(ttl).toBeLessThanOrEqual(5000);
      expect(await admin.zrange(`${prefix}:workers`, 0, -1)).toEqual(['w-1']);
      // An index entry whose key expired long ago is pruned by the next listing.
      await admin.zadd(`${prefix}:workers`, Date.now() - 120_000, 'w-gone');
      expect((await registry.list()).map((h) => h.workerId)).toEqual(['w-1']);
      expect(await admin.zrange(`${prefix}:workers`, 0, -1)).toEqual(['w-1']);
    } finally {
      await registry.close();
      await deleteKeys(prefix);
    }
  });
});
