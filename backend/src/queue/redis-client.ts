import { Redis, type RedisOptions } from 'ioredis';
import { processEnvironment } from '../config/index.js';
import { reconnectDelayMs } from '../lib/backoff.js';
import { withTimeout } from '../lib/timeout.js';
import { createLogger, type Logger } from '../observability/logger.js';

/** Redis behind Sentinel: the client asks the sentinels for the current primary of `name`. */
export interface RedisSentinelTarget {
  sentinels: { host: string; port: number }[];
  name: string;
  password?: string;
}

export interface RedisClientOptions {
  /**
   * Follow a primary through failovers (REDIS_SENTINELS). The URL then gives only the password,
   * database and TLS; its host is not used.
   */
  sentinel?: RedisSentinelTarget;
  logger?: Logger;
  /** Shown in `CLIENT LIST` and in log lines, e.g. `queue-producer`. */
  connectionName?: string;
  /**
   * `null` = a command waits for the connection to come back instead of failing (BullMQ workers
   * and blocking readers need this). A number = a command fails after that many reconnects, so a
   * request path answers 503 instead of hanging. Default 3 (behind Sentinel 10, enough to ride out a
   * failover).
   */
  maxRetriesPerRequest?: number | null;
  /** Any other ioredis option (wins over the ones above). */
  redis?: RedisOptions;
}

/**
 * Behind Sentinel a command rides out a failover (about 2 s to notice and promote) instead of
 * failing: ten reconnects span about 5 s of the growing delay below.
 */
const sentinelRetriesPerRequest = 10;

/**
 * An ioredis client that never takes the process down: connection errors are logged (at most one
 * line per distinct message every 10 s, so a Redis outage does not flood the log) and never thrown
 * as an unhandled `error` event, and the client reconnects by itself forever.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const logger = (options.logger ?? createLogger(processEnvironment().LOG_LEVEL ?? 'warn')).child({
    component: 'redis',
    connection: options.connectionName ?? 'default',
  });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('invalid Redis URL (expected redis://[user:password@]host:port[/db])');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(
      `invalid Redis URL scheme ${JSON.stringify(parsed.protocol)} (expected redis: or rediss:)`,
    );
  }
  const client = new Redis(url, {
    maxRetriesPerRequest:
      options.maxRetriesPerRequest === undefined
        ? options.sentinel
          ? sentinelRetriesPerRequest
          : 3
        : options.maxRetriesPerRequest,
    retryStrategy: reconnectDelayMs,
    connectionName: options.connectionName ? `ipa:${options.connectionName}` : undefined,
    ...(options.sentinel ? sentinelOptions(options.sentinel) : {}),
    ...options.redis,
  });
  let lastMessage = '';
  let lastLoggedAt = 0;
  let suppressed = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (err.message === lastMessage && now - lastLoggedAt < 10_000) {
      suppressed += 1;
      return;
    }
    logger.warn({ err: err.message, repeated: suppressed }, 'redis connection error');
    lastMessage = err.message;
    lastLoggedAt = now;
    suppressed = 0;
  });
  client.on('ready', () => {
    if (lastMessage) logger.info('redis connection restored');
    lastMessage = '';
  });
  reviveWhenEnded(client, logger);
  return client;
}

/**
 * ioredis gives up on a connection for good ("end": every command then fails with "Connection is
 * closed.") not only when its owner closes it: a `disconnect()` that lands while a Sentinel client
 * is still asking the sentinels for the primary — the failover detector's own reaction to
 * `+switch-master`, racing the reconnect after the dead primary dropped the socket — ends it too.
 * A platform connection must outlive any failover, so an end its owner did not ask for (through
 * `quit()` or `disconnect()`) is answered with a new connect after the usual reconnect delay.
 */
export function reviveWhenEnded(client: Redis, logger: Logger): void {
  let closedByOwner = false;
  let revivals = 0;
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.quit = ((...args: Parameters<Redis['quit']>) => {
    closedByOwner = true;
    return quit(...args);
  }) as Redis['quit'];
  client.disconnect = (reconnect = false) => {
    if (!reconnect) closedByOwner = true;
    disconnect(reconnect);
  };
  client.on('ready', () => {
    revivals = 0;
  });
  client.on('end', () => {
    if (closedByOwner) return;
    revivals += 1;
    logger.warn({ revivals }, 'redis connection ended without being closed; connecting again');
    setTimeout(() => {
      if (closedByOwner || client.status !== 'end') return;
      // A failed connect ends the client again, and this handler tries once more, a little later.
      client.connect().catch(() => {});
    }, reconnectDelayMs(revivals)).unref();
  });
}

/**
 * Through Sentinel: the primary is looked up on every (re)connect, the sentinels' switch-master
 * announcement makes the client reconnect at once, and a connection that still reaches a demoted
 * primary (READONLY) is dropped and made again, to the new one; the failed command is resent.
 */
function sentinelOptions(target: RedisSentinelTarget): RedisOptions {
  return {
    sentinels: target.sentinels,
    name: target.name,
    sentinelPassword: target.password,
    sentinelRetryStrategy: reconnectDelayMs,
    failoverDetector: true,
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

/** `PING` that rejects within `timeoutMs` when Redis is down (instead of waiting for a reconnect). */
export async function pingRedis(client: Redis, timeoutMs = 2000): Promise<void> {
  if (client.status === 'end') throw new Error('redis connection is closed');
  await withTimeout(client.ping(), timeoutMs, 'redis');
}

/** Closes a client politely, falling back to a hard disconnect when Redis is unreachable. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await withTimeout(client.quit(), 1000, 'redis quit');
  } catch {
    client.disconnect();
  }
}
