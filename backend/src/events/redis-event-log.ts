import type { Redis } from 'ioredis';
import { processEnvironment } from '../config/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { closeRedisClient, createRedisClient, pingRedis, reviveWhenEnded } from '../queue/index.js';
import { BlockedReaders, toEvent, type Waiter } from './blocked-readers.js';
import { assertEventId, assertExecutionId } from './ids.js';
import { type EventLog, type ExecutionEvent, terminalEventTypes } from './types.js';

/**
 * Appends one event and announces it, atomically. A stream gets one terminal event only: a second
 * one returns the first one's id. That makes the terminal append safe to repeat, as the client
 * does after a failover for a command whose answer was lost (it may have run on the old primary
 * and been replicated).
 */
const appendScript = `
local ttl = tonumber(ARGV[6])
local function expire()
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[1], ttl)
    redis.call('EXPIRE', KEYS[3], ttl)
  end
end
if ARGV[5] == '1' then
  local ended = redis.call('GET', KEYS[3])
  if ended then
    expire()
    return ended
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[2], 'd', ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'k', KEYS[1])
if ARGV[5] == '1' then redis.call('SET', KEYS[3], id) end
expire()
return id
`;

/** Holds the id of a stream's terminal event. */
const terminalMarkerKey = (streamKey: string) => `${streamKey}:end`;

import { assertEventType, assertTtl, normaliseReadOptions, serialiseData } from './validate.js';

export interface RedisEventLogOptions {
  /** A shared command client (not closed by the log) … */
  redis?: Redis;
  /** … or a URL, and the log owns its client. The blocking connection is always the log's own. */
  redisUrl?: string;
  /** Platform key prefix (`REDIS_PREFIX`). */
  prefix: string;
  /** Approximate cap of events per execution (`XADD MAXLEN ~`). Default 10,000. */
  maxLength?: number;
  logger?: Logger;
}

/** Redis key of an execution's event stream. */
export function eventStreamKey(prefix: string, executionId: string): string {
  return `${prefix}:events:${executionId}`;
}

/** Redis key of the stream that announces appends to blocked readers (capped, ids only). */
export function eventNotificationKey(prefix: string): string {
  return `${prefix}:event-notifications`;
}

const notificationMaxLength = 10_000;

/**
 * `EventLog` on Redis Streams. Guarantees:
 * - one stream per execution, key `<prefix>:events:<executionId>`, each event one entry
 *   (`t` = type, `d` = JSON data) whose Redis stream id is the event id, so ids are strictly
 *   increasing and a reader resuming after an id gets exactly the later events (no gap, no
 *   duplicate) while the stream exists;
 * - the stream is capped at about `maxLength` events (`MAXLEN ~`); `expire` sets a TTL on it;
 * - blocked readers cost no connection each: all blocked reads of a process share ONE dedicated
 *   connection (`BlockedReaders`), so 10,000 waiting SSE clients use two Redis connections in
 *   all, and an append wakes its readers within a couple of round trips whatever their number.
 *   For that, every append also announces its stream on `<prefix>:event-notifications` in the
 *   same MULTI; an entry written to a stream by other means is still read, but only wakes a
 *   blocked reader at its timeout.
 */
export function createRedisEventLog(options: RedisEventLogOptions): EventLog {
  const { prefix } = options;
  if (!/^[a-zA-Z0-9_-]+$/.test(prefix)) throw new Error(`invalid Redis key prefix ${JSON.stringify(prefix)}`);
  if (!options.redis && !options.redisUrl) throw new Error('createRedisEventLog needs redis or redisUrl');
  const maxLength = options.maxLength ?? 10_000;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError('maxLength must be an integer ≥ 1');
  const logger = (options.logger ?? createLogger(processEnvironment().LOG_LEVEL ?? 'warn')).child({
    component: 'event-log',
  });
  const owned = !options.redis;
  const redis =
    options.redis ??
    createRedisClient(options.redisUrl!, { logger: options.logger, connectionName: 'events' });
  const notifyKey = eventNotificationKey(prefix);
  let blocked: BlockedReaders | undefined;
  const blockedReaders = (): BlockedReaders => {
    if (blocked) return blocked;
    // Wait for Redis rather than fail, but never replay a half-done XREAD on a new connection:
    // the reader notices the loss and starts over by itself.
    const connection = options.redisUrl
      ? createRedisClient(options.redisUrl, {
          logger: options.logger,
          connectionName: 'events-blocking',
          maxRetriesPerRequest: null,
          redis: { autoResendUnfulfilledCommands: false },
        })
      : redis.duplicate({
          maxRetriesPerRequest: null,
          autoResendUnfulfilledCommands: false,
          connectionName: 'ipa:events-blocking',
        });
    if (!options.redisUrl) {
      connection.on('error', (err: Error) => logger.debug({ err: err.message }, 'blocking connection error'));
      reviveWhenEnded(connection, logger);
    }
    blocked = new BlockedReaders({ connection, commands: redis, notifyKey, logger });
    return blocked;
  };
  let closed = false;

  return {
    async append(executionId, type, data, options) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      assertEventType(type);
      const ttl = options?.expireSeconds;
      if (ttl !== undefined) assertTtl(ttl);
      const json = serialiseData(data);
      const key = eventStreamKey(prefix, executionId);
      const terminal = terminalEventTypes.includes(type) ? '1' : '0';
      const id = await redis.eval(
        appendScript,
        3,
        key,
        notifyKey,
        terminalMarkerKey(key),
        maxLength,
        type,
        json,
        notificationMaxLength,
        terminal,
        ttl ?? 0,
      );
      if (typeof id !== 'string') throw new Error('redis did not add the event');
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
      const xrange = async () =>
        ((await redis.call('XRANGE', key, ...range)) as Array<[string, string[]]>).map(toEvent);
      if (blockMs === 0 || signal?.aborted) return xrange();

      // Register as a waiter BEFORE looking: an event appended after the look is then announced
      // to a waiter that already exists, so it cannot slip between the two.
      const readers = blockedReaders();
      let settle!: (events: ExecutionEvent[]) => void;
      const result = new Promise<ExecutionEvent[]>((resolve) => {
        settle = resolve;
      });
      let done = false;
      const waiter: Waiter = {
        key,
        afterId: afterId ?? '0-0',
        count,
        resolve: (events) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          readers.remove(waiter);
          settle(events);
        },
      };
      const onAbort = () => waiter.resolve([]);
      const timer = setTimeout(onAbort, blockMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      readers.add(waiter);
      try {
        const existing = await xrange();
        if (existing.length > 0) waiter.resolve(existing);
      } catch (err) {
        waiter.resolve([]);
        throw err;
      }
      return result;
    },

    async last(executionId) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      const newest = (await redis.call(
        'XREVRANGE',
        eventStreamKey(prefix, executionId),
        '+',
        '-',
        'COUNT',
        1,
      )) as Array<[string, string[]]>;
      return newest[0] ? toEvent(newest[0]) : undefined;
    },

    async expire(executionId, ttlSeconds) {
      assertExecutionId(executionId);
      assertTtl(ttlSeconds);
      const key = eventStreamKey(prefix, executionId);
      await redis.multi().expire(key, ttlSeconds).expire(terminalMarkerKey(key), ttlSeconds).exec();
    },

    async ping() {
      await pingRedis(redis, 2000);
    },

    async close() {
      if (closed) return;
      closed = true;
      await blocked?.close();
      if (owned) await closeRedisClient(redis);
    },
  };
}
