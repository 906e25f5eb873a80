import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';

/**
 * The shared (Redis) rate limit with a local allowance in front of it, as a store of
 * `@fastify/rate-limit`. A replica takes a key's budget from Redis in chunks: one INCRBY reserves
 * the next `chunk` positions of the key's fixed window (counted by every replica together), and
 * the replica hands them out locally, one per request, without asking Redis again. A request whose
 * position is past the limit is refused; once a replica saw the window's budget spent it refuses
 * locally until the window ends. So most requests never touch Redis (about one in `chunk`).
 *
 * Bounds, per key and window: never more than `max` requests admitted across all replicas (each
 * position is issued once, by Redis); a user spreading requests over R replicas may be refused up
 * to (R − 1) × (chunk − 1) requests early, because other replicas may hold positions they have not
 * handed out yet. With `chunk` = 1 it is exactly the shared counter.
 */

/** Reserves `ARGV[1]` positions of a fixed window of `ARGV[2]` ms; returns the last and the window's rest. */
const reserveScript = `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {count, tonumber(ARGV[2])}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
`;

interface LocalWindow {
  /** When the window ends (this replica's clock: receive time + Redis's PTTL). */
  endsAt: number;
  /** The next position to hand out, and the last one reserved. */
  next: number;
  reservedTo: number;
  pending?: Promise<void>;
}

type Callback = Parameters<FastifyRateLimitStore['incr']>[1];

/** Keys whose windows are kept; beyond it, ended windows are swept on the next reservation. */
const sweepAbove = 10_000;

/** The chunk a replica reserves at a time for a limit of `max` (1 for small limits: exact). */
export function defaultRateLimitChunk(max: number): number {
  return Math.max(1, Math.min(50, Math.floor(max / 50)));
}

export interface ChunkedRateLimitOptions {
  redis: Redis;
  /** Key prefix of the counters (`<REDIS_PREFIX>:rate:`). */
  prefix: string;
  /** Positions reserved at a time, for a limit of `max`. */
  chunk: (max: number) => number;
}

/** A store class for `@fastify/rate-limit` (`store` option), bound to one Redis client. */
export function chunkedRedisRateLimitStore(options: ChunkedRateLimitOptions): FastifyRateLimitStoreCtor {
  const { redis } = options;

  return class ChunkedRedisRateLimitStore implements FastifyRateLimitStore {
    private readonly windows = new Map<string, LocalWindow>();

    constructor(
      _params?: unknown,
      private readonly keyPrefix = options.prefix,
    ) {}

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.take(this.keyPrefix + key, timeWindow, max).then(
        (result) => callback(null, result),
        (error: Error) => callback(error),
      );
    }

    /** A route with a limit of its own counts under its own keys, as the plugin's Redis store does. */
    child(routeOptions: unknown): FastifyRateLimitStore {
      // At run time the plugin passes its merged parameters, with the route under `routeInfo`.
      const route = (routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo ?? {};
      const method = String(route.method ?? '');
      const url = String(route.url ?? '');
      return new ChunkedRedisRateLimitStore(undefined, `${this.keyPrefix}${method}${url}-`);
    }

    private async take(
      key: string,
      windowMs: number,
      max: number,
    ): Promise<{ current: number; ttl: number }> {
      for (;;) {
        const now = Date.now();
        let window = this.windows.get(key);
        if (!window || (window.endsAt <= now && !window.pending)) {
          window = { endsAt: 0, next: 1, reservedTo: 0 };
          this.windows.set(key, window);
        }
        const ttl = Math.max(0, window.endsAt - now);
        if (window.next <= window.reservedTo) return { current: window.next++, ttl };
        // The window's budget is spent (seen by this replica): refused without asking Redis.
        if (window.reservedTo >= max && window.endsAt > now) return { current: max + 1, ttl };
        window.pending ??= this.reserve(key, window, windowMs, max);
        await window.pending;
      }
    }

    private async reserve(key: string, window: LocalWindow, windowMs: number, max: number): Promise<void> {
      try {
        if (this.windows.size > sweepAbove) {
          const now = Date.now();
          for (const [other, w] of this.windows)
            if (w.endsAt <= now && !w.pending) this.windows.delete(other);
        }
        const chunk = Math.max(1, Math.floor(options.chunk(max)));
        const [count, ttl] = (await redis.eval(reserveScript, 1, key, chunk, windowMs)) as [number, number];
        window.next = count - chunk + 1;
        window.reservedTo = count;
        window.endsAt = Date.now() + ttl;
      } finally {
        window.pending = undefined;
      }
    }
  };
}
