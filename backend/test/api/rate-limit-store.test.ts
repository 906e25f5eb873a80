import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chunkedRedisRateLimitStore, defaultRateLimitChunk } from '../../src/api/plugins/rate-limit-store.js';
import { freshRedisPrefix, redisUrl } from '../support/services.js';

type Store = InstanceType<ReturnType<typeof chunkedRedisRateLimitStore>>;

/** One request through a store: admitted when its position is within `max`, as the plugin decides. */
function hit(store: Store, key: string, windowMs: number, max: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    store.incr(
      key,
      (error, result) => (error || !result ? reject(error) : resolve(result.current <= max)),
      windowMs,
      max,
    );
  });
}

describe('rate limit: local chunks of the shared Redis budget', () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(() => {
    redis = new Redis(redisUrl);
    prefix = `${freshRedisPrefix()}:rate:`;
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  /** Two replicas' stores on one Redis, each counting its calls to Redis. */
  function replicas(chunk: number) {
    const evals = vi.spyOn(redis, 'eval');
    const Store = chunkedRedisRateLimitStore({ redis, prefix, chunk: () => chunk });
    return { stores: [new Store(undefined as never), new Store(undefined as never)], evals };
  }

  it('never admits more than the limit across replicas, and refuses at most (R − 1)(chunk − 1) early', async () => {
    const { stores, evals } = replicas(5);
    try {
      const admitted: boolean[] = [];
      for (let i = 0; i < 40; i++) admitted.push(await hit(stores[i % 2]!, 'spread', 60_000, 20));
      const count = admitted.filter(Boolean).length;
      expect(count).toBeLessThanOrEqual(20);
      expect(count).toBeGreaterThanOrEqual(20 - (2 - 1) * (5 - 1));
      // About one Redis call per chunk while there is budget; none once a replica saw it spent.
      expect(evals.mock.calls.length).toBeLessThanOrEqual(Math.ceil(20 / 5) + 2);
    } finally {
      evals.mockRestore();
    }
  });

  it('on one replica admits exactly the limit, asking Redis once per chunk', async () => {
    const { stores, evals } = replicas(10);
    try {
      const results = await Promise.all(Array.from({ length: 60 }, () => hit(stores[0]!, 'one', 60_000, 50)));
      expect(results.filter(Boolean)).toHaveLength(50);
      // Five chunks hold the whole budget; the ten refusals after it are answered locally.
      expect(evals).toHaveBeenCalledTimes(5);
    } finally {
      evals.mockRestore();
    }
  });

  it('starts a new budget when the window ends', async () => {
    const { stores, evals } = replicas(1);
    try {
      expect(await hit(stores[0]!, 'window', 300, 2)).toBe(true);
      expect(await hit(stores[1]!, 'window', 300, 2)).toBe(true);
      expect(await hit(stores[0]!, 'window', 300, 2)).toBe(false);
      await vi.waitFor(async () => expect(await redis.exists(`${prefix}window`)).toBe(0), { timeout: 2000 });
      // The replica's own end of the window follows Redis's within a round trip; until then it
      // refuses locally, after it the new window's budget is taken.
      await vi.waitFor(async () => expect(await hit(stores[0]!, 'window', 300, 2)).toBe(true), {
        timeout: 2000,
        interval: 10,
      });
    } finally {
      evals.mockRestore();
    }
  });

  it('passes a Redis failure to the plugin (which lets the request through)', async () => {
    const broken = { eval: async () => Promise.reject(new Error('redis down')) } as unknown as Redis;
    const Store = chunkedRedisRateLimitStore({ redis: broken, prefix, chunk: () => 3 });
    await expect(hit(new Store(undefined as never), 'down', 60_000, 5)).rejects.toThrow('redis down');
  });

  it('takes small limits one at a time (exact) and large ones in chunks of at most 50', () => {
    expect(defaultRateLimitChunk(6)).toBe(1);
    expect(defaultRateLimitChunk(600)).toBe(12);
    expect(defaultRateLimitChunk(1_000_000)).toBe(50);
  });
});
