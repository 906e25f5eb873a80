import type { Redis } from 'ioredis';
import { type BlobStore, openBlobStore } from './blobs/index.js';
import type { Config } from './config/index.js';
import { createInProcessEventLog, createRedisEventLog, type EventLog } from './events/index.js';
import { createDependencyProbe, isProblem } from './lib/dependency-probe.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import {
  closeRedisClient,
  createBullmqQueue,
  createInProcessQueue,
  createInProcessWorkerRegistry,
  createRedisClient,
  createRedisWorkerRegistry,
  type ExecutionQueue,
  pingRedis,
  type WorkerRegistry,
} from './queue/index.js';
import type { Services } from './services.js';
import { startBlobMaintenance } from './store/blob-maintenance.js';
import { createStore, type Database, openDatabase } from './store/index.js';

export interface CreateServicesOptions {
  logger?: Logger;
  /**
   * An already opened database to use instead of the configured one (tests: an in-memory
   * PGlite). It is owned from then on: `close()` closes it.
   */
  database?: Database;
  /** A blob store to use instead of the configured one (tests); owned from then on too. */
  blobs?: BlobStore;
}

/**
 * The composition root: builds every process-wide dependency from the configuration, once.
 * PostgreSQL or the embedded PGlite from `config.database`; with `config.redis` the BullMQ queue,
 * Redis Streams event log and Redis worker registry on one shared client, otherwise their
 * in-process versions (standalone mode). Migrations are not run here: the CLI runs them.
 */
export async function createServices(config: Config, options: CreateServicesOptions = {}): Promise<Services> {
  const logger = options.logger ?? createLogger(config.logLevel, `ipa-${config.role}`);
  const metrics = createMetrics(config.role);
  const db =
    options.database ??
    (await openDatabase(
      config.database.kind === 'postgres'
        ? { ...config.database, logger }
        : { kind: 'pglite', dir: config.database.dir },
    ));

  let redis: Redis | undefined;
  let queue: ExecutionQueue | undefined;
  let events: EventLog | undefined;
  let workers: WorkerRegistry | undefined;
  try {
    if (config.redis) {
      const { url, prefix, sentinel } = config.redis;
      redis = createRedisClient(url, { sentinel, logger, connectionName: `${config.role}-shared` });
      queue = createBullmqQueue({
        redisUrl: url,
        sentinel,
        prefix,
        stalledIntervalMs: config.worker.stalledIntervalMs,
        maxAttempts: config.worker.maxAttempts,
        logger,
      });
      events = createRedisEventLog({ redis, prefix, logger });
      workers = createRedisWorkerRegistry({ redis, prefix, logger });
    } else {
      queue = createInProcessQueue({ maxAttempts: config.worker.maxAttempts });
      events = createInProcessEventLog();
      workers = createInProcessWorkerRegistry();
    }
  } catch (err) {
    await Promise.allSettled([queue?.close(), events?.close(), workers?.close()]);
    if (redis) await closeRedisClient(redis);
    await db.close();
    throw err;
  }

  let blobs: BlobStore;
  try {
    blobs = options.blobs ?? (await openBlobStore(config));
  } catch (err) {
    await Promise.allSettled([queue.close(), events.close(), workers.close()]);
    if (redis) await closeRedisClient(redis);
    await db.close();
    throw err;
  }
  const store = createStore(db, { blobs });
  const upkeep = startBlobMaintenance({ db, blobs, intervalMs: config.blobGcIntervalMs, logger });
  const sharedRedis = redis;
  const seams = { queue, events };
  // Every Redis-backed seam: one of them alone may have lost its connection.
  const probe = createDependencyProbe({
    database: () => db.ping(),
    redis: sharedRedis
      ? () => Promise.all([pingRedis(sharedRedis), seams.queue.ping(), seams.events.ping()])
      : undefined,
  });
  let closing: Promise<void> | undefined;

  return {
    config,
    logger,
    metrics,
    store,
    queue,
    events,
    workers,
    redis: sharedRedis,

    probe,

    redisKnownDown: () => sharedRedis !== undefined && sharedRedis.status !== 'ready',

    async checkDependencies() {
      const failing = Object.entries(await probe.check()).find(([, check]) => isProblem(check));
      if (failing) throw new Error(`${failing[0]} is unreachable (${failing[1]})`);
    },

    close() {
      // Users of the connections first (queue, event log, registry), then the shared Redis
      // client they may borrow, then the database. Safe to call more than once.
      closing ??= (async () => {
        await upkeep.stop();
        const results = await Promise.allSettled([queue.close(), events.close(), workers.close()]);
        if (sharedRedis) await closeRedisClient(sharedRedis);
        await blobs.close();
        await db.close();
        for (const result of results) {
          if (result.status === 'rejected')
            logger.warn({ err: result.reason }, 'a service did not close cleanly');
        }
      })();
      return closing;
    },
  };
}
