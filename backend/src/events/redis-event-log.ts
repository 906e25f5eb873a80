import type { Redis } from 'ioredis';
import { createLogger, type Logger } from '../observability/logger.js';
import { closeRedisClient, createRedisClient, pingRedis } from '../queue/index.js';
import { BlockingReader, toEvent, type Waiter } from './blocking-reader.js';
import { assertEventId, assertExecutionId } from './ids.js';
import type { EventLog, ExecutionEvent } from './types.js';
import { assertEventType, assertTtl, normaliseReadOptions, serialiseData } from './validate.js';

export interface RedisEventLogOptions {
  /** A shared command client (not closed by the log) … */
  redis?: Redis;
  /** … or a URL, and the log owns its client. Blocking connections are always the log's own. */
  redisUrl?: string;
  /** Platform key prefix (`REDIS_PREFIX`). */
  prefix: string;
  /** Approximate cap of events per execution (`XADD MAXLEN ~`). Default 10,000. */
  maxLength?: number;
  logger?: Logger;
  /** Dedicated XREAD BLOCK connections that serve all blocked readers of this process. Default 2. */
  blockingConnections?: number;
}

/** Redis key of an execution's event stream. */
export function eventStreamKey(prefix: string, executionId: string): string {
  return `${prefix}:events:${executionId}`;
}

/**
 * `EventLog` on Redis Streams. Guarantees:
 * - one stream per execution, key `<prefix>:events:<executionId>`, each event one entry
 *   (`t` = type, `d` = JSON data) whose Redis stream id is the event id, so ids are strictly
 *   increasing and a reader resuming after an id gets exactly the later events (no gap, no
 *   duplicate) while the stream exists;
 * - the stream is capped at about `maxLength` events (`MAXLEN ~`) and `expire` sets a TTL on it;
 * - blocked readers cost no connection each: all of them in this process share
 *   `blockingConnections` dedicated connections (see `BlockingReader`), so 10,000 waiting SSE
 *   clients use a handful of Redis connections, and an append wakes its readers in about one
 *   round trip.
 */
export function createRedisEventLog(options: RedisEventLogOptions): EventLog {
  const { prefix } = options;
  if (!/^[a-zA-Z0-9_-]+$/.test(prefix)) throw new Error(`invalid Redis key prefix ${JSON.stringify(prefix)}`);
  if (!options.redis && !options.redisUrl) throw new Error('createRedisEventLog needs redis or redisUrl');
  const maxLength = options.maxLength ?? 10_000;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError('maxLength must be an integer ≥ 1');
  const shardCount = options.blockingConnections ?? 2;
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 64) {
    throw new RangeError('blockingConnections must be an integer between 1 and 64');
  }
  const logger = (options.logger ?? createLogger(process.env.LOG_LEVEL ?? 'warn')).child({
    component: 'event-log',
  });
  const owned = !options.redis;
  const redis =
    options.redis ??
    createRedisClient(options.redisUrl!, { logger: options.logger, connectionName: 'events' });
  const blockingConnection = (i: number): Redis => {
    // Wait for Redis rather than fail, but never replay a half-done XREAD on a new connection: the
    // reader re-issues it itself with that connection's new client id.
    if (options.redisUrl) {
      return createRedisClient(options.redisUrl, {
        logger: options.logger,
        connectionName: `events-blocking-${i}`,
        maxRetriesPerRequest: null,
        redis: { autoResendUnfulfilledCommands: false },
      });
    }
    const connection = redis.duplicate({
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: false,
      connectionName: `ipa:events-blocking-${i}`,
    });
    connection.on('error', (err: Error) => logger.debug({ err: err.message }, 'blocking connection error'));
    return connection;
  };
  const shards: BlockingReader[] = [];
  const shardFor = (executionId: string): BlockingReader => {
    if (shards.length === 0) {
      for (let i = 0; i < shardCount; i++) {
        shards.push(new BlockingReader({ connection: blockingConnection(i), control: redis, logger }));
      }
    }
    let hash = 0;
    for (let i = 0; i < executionId.length; i++) hash = (hash * 31 + executionId.charCodeAt(i)) | 0;
    return shards[Math.abs(hash) % shards.length]!;
  };
  let closed = false;

  return {
    async append(executionId, type, data) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      assertEventType(type);
      const json = serialiseData(data);
      const id = await redis.xadd(
        eventStreamKey(prefix, executionId),
        'MAXLEN',
        '~',
        maxLength,
        '*',
        't',
        type,
        'd',
        json,
      );
      if (id === null) throw new Error('redis did not add the event');
      return id;
    },

    async read(executionId, afterId, readOptions) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      if (afterId !== undefined) assertEventId(afterId);
      const { blockMs, count, signal } = normaliseReadOptions(readOptions);
      const key = eventStreamKey(prefix, executionId);
      const range: Array<string | number> = [afterId === undefined ? '-' : `(${afterId}`, '+'];
      if (count !== undefined) range.push('COUNT', count);
      const entries = (await redis.call('XRANGE', key, ...range)) as Array<[string, string[]]>;
      if (entries.length > 0 || blockMs === 0 || signal?.aborted) return entries.map(toEvent);
      // Nothing yet: wait on the shared blocking reader. It reads after the same id, so an event
      // appended since the XRANGE above is not missed.
      const reader = shardFor(executionId);
      return new Promise<ExecutionEvent[]>((resolve) => {
        const waiter: Waiter = {
          key,
          afterId: afterId ?? '0-0',
          count,
          resolve: (events) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            reader.remove(waiter);
            resolve(events);
          },
        };
        const onAbort = () => waiter.resolve([]);
        const timer = setTimeout(onAbort, blockMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        reader.add(waiter);
      });
    },

    async expire(executionId, ttlSeconds) {
      assertExecutionId(executionId);
      assertTtl(ttlSeconds);
      await redis.expire(eventStreamKey(prefix, executionId), ttlSeconds);
    },

    async ping() {
      await pingRedis(redis, 2000);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(shards.map((s) => s.close()));
      if (owned) await closeRedisClient(redis);
    },
  };
}
