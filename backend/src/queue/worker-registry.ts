import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { closeRedisClient, createRedisClient } from './redis-client.js';
import type { WorkerHeartbeat, WorkerRegistry } from './types.js';

function validateHeartbeat(heartbeat: WorkerHeartbeat, ttlMs: number): void {
  if (typeof heartbeat?.workerId !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(heartbeat.workerId)) {
    throw new TypeError(`invalid worker id ${JSON.stringify(heartbeat?.workerId)}`);
  }
  if (!Number.isInteger(ttlMs) || ttlMs < 1)
    throw new RangeError('heartbeat ttlMs must be a positive integer');
}

export interface RedisWorkerRegistryOptions {
  /** A shared client (not closed by the registry) or a URL (the registry owns its client). */
  redis?: Redis;
  redisUrl?: string;
  prefix: string;
  logger?: Logger;
}

/**
 * Heartbeats in Redis. Each worker has a key `<prefix>:workers:<id>` holding its last heartbeat
 * with a PX TTL, so a dead worker disappears when its TTL runs out. The sorted set
 * `<prefix>:workers` indexes the ids (score = expiry) so listing never scans the keyspace;
 * `list()` reads the keys (Redis's TTL is the truth, whatever the pods' clocks say) and prunes
 * index entries whose key is gone.
 */
export function createRedisWorkerRegistry(options: RedisWorkerRegistryOptions): WorkerRegistry {
  const { prefix } = options;
  if (!/^[a-zA-Z0-9_-]+$/.test(prefix)) throw new Error(`invalid Redis key prefix ${JSON.stringify(prefix)}`);
  if (!options.redis && !options.redisUrl)
    throw new Error('createRedisWorkerRegistry needs redis or redisUrl');
  const owned = !options.redis;
  const redis =
    options.redis ??
    createRedisClient(options.redisUrl!, { logger: options.logger, connectionName: 'worker-registry' });
  const indexKey = `${prefix}:workers`;
  const workerKey = (id: string) => `${prefix}:workers:${id}`;

  return {
    async publish(heartbeat, ttlMs) {
      validateHeartbeat(heartbeat, ttlMs);
      await redis
        .multi()
        .set(workerKey(heartbeat.workerId), JSON.stringify(heartbeat), 'PX', ttlMs)
        .zadd(indexKey, Date.now() + ttlMs, heartbeat.workerId)
        .exec();
    },
    async remove(workerId) {
      await redis.multi().del(workerKey(workerId)).zrem(indexKey, workerId).exec();
    },
    async list() {
      const ids = await redis.zrange(indexKey, 0, -1);
      if (ids.length === 0) return [];
      const values = await redis.mget(ids.map(workerKey));
      const alive: WorkerHeartbeat[] = [];
      const gone: string[] = [];
      values.forEach((value, i) => {
        if (value === null) {
          gone.push(ids[i]!);
          return;
        }
        try {
          alive.push(JSON.parse(value) as WorkerHeartbeat);
        } catch {
          gone.push(ids[i]!);
        }
      });
      // Only prune entries whose expiry passed a while ago: a worker publishing right now may have
      // written its index entry before its key (they are one MULTI, but be lenient to clock skew).
      if (gone.length > 0) {
        const stale = Date.now() - 60_000;
        const scores = await redis.zmscore(indexKey, ...gone);
        const prune = gone.filter((_, i) => Number(scores[i] ?? 0) < stale);
        if (prune.length > 0) await redis.zrem(indexKey, ...prune);
      }
      return alive.sort((a, b) => a.workerId.localeCompare(b.workerId));
    },
    async close() {
      if (owned) await closeRedisClient(redis);
    },
  };
}

/** Heartbeats in memory (standalone mode: the one worker lives in the API's process). */
export function createInProcessWorkerRegistry(): WorkerRegistry {
  const workers = new Map<string, { heartbeat: WorkerHeartbeat; expiresAt: number }>();
  return {
    async publish(heartbeat, ttlMs) {
      validateHeartbeat(heartbeat, ttlMs);
      workers.set(heartbeat.workerId, {
        heartbeat: structuredClone(heartbeat),
        expiresAt: Date.now() + ttlMs,
      });
    },
    async remove(workerId) {
      workers.delete(workerId);
    },
    async list() {
      const now = Date.now();
      const alive: WorkerHeartbeat[] = [];
      for (const [id, entry] of workers) {
        if (entry.expiresAt <= now) workers.delete(id);
        else alive.push(structuredClone(entry.heartbeat));
      }
      return alive.sort((a, b) => a.workerId.localeCompare(b.workerId));
    },
    async close() {
      workers.clear();
    },
  };
}
