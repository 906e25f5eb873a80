import type { Redis } from 'ioredis';
import type { Config } from './config/index.js';
import type { EventLog } from './events/types.js';
import type { DependencyProbe } from './lib/dependency-probe.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import type { ExecutionQueue, WorkerRegistry } from './queue/types.js';
import type { Store } from './store/types.js';

/**
 * The process-wide dependencies, built once by the composition root (`platform.ts`) from the
 * configuration: distributed implementations when DATABASE_URL / REDIS_URL are set, embedded
 * and in-process ones otherwise. The API and the worker receive them; neither builds clients.
 */
export interface Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  store: Store;
  queue: ExecutionQueue;
  events: EventLog;
  workers: WorkerRegistry;
  /** Shared Redis client (distributed mode only), e.g. for the rate limiter. */
  redis?: Redis;
  /**
   * True when the shared Redis connection is known to be down (reconnecting), without asking
   * Redis: requests that need it then answer 503 at once. Always false without Redis.
   */
  redisKnownDown(): boolean;
  /** Asks every backing service whether it answers (readiness and `/health` of both roles). */
  probe: DependencyProbe;
  /** Checks every backing service; rejects naming the first one that does not answer. */
  checkDependencies(): Promise<void>;
  close(): Promise<void>;
}
