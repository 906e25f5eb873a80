import { type ApiOptions, type ApiServer, ensureAdmin, startApiServer } from '../../src/api/index.js';
import { createMemoryBlobStore } from '../../src/blobs/index.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import { migrate, openDatabase, type User } from '../../src/store/index.js';
import { databaseSettings, freshPostgresDatabase, freshRedisPrefix, redisUrl } from './services.js';

export const testAdminToken = 'ipa_test-admin-token-0123456789abcdef';

export interface TestPlatform {
  services: Services;
  config: Config;
  /** Closes the services and drops what the platform created (database, keys). */
  cleanup(): Promise<void>;
}

let defaultMode: 'inProcess' | 'distributed' = 'inProcess';

/** Makes every test platform of this test file distributed unless it names its mode (suites re-run on PostgreSQL). */
export function useDistributedTestPlatforms(): void {
  defaultMode = 'distributed';
}

/**
 * Services for tests, built by the real composition root (`createServices`).
 * - `inProcess` (default, fast): an in-memory PGlite and the in-process queue and event log.
 * - `distributed`: a fresh PostgreSQL database and a fresh Redis key prefix.
 * `env` overrides settings (e.g. `{ RATE_LIMIT_PER_MINUTE: '5' }`).
 */
export async function createTestPlatform(
  options: {
    mode?: 'inProcess' | 'distributed';
    env?: Record<string, string>;
    /** Redis to use instead of the test Redis (e.g. through a proxy the test can cut). */
    redisUrl?: string;
    /** Rewrites the fresh database's URL (e.g. to go through a proxy); it is still dropped by URL. */
    databaseUrl?: (url: string) => string;
  } = {},
): Promise<TestPlatform> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  if ((options.mode ?? defaultMode) === 'distributed') {
    const database = await freshPostgresDatabase();
    // A suite re-run on PostgreSQL and Redis (`useDistributedTestPlatforms`) keeps the role it was written for.
    const config = loadConfig(options.mode === 'distributed' ? 'api' : 'standalone', {
      DATABASE_URL: options.databaseUrl ? options.databaseUrl(database.url) : database.url,
      DATABASE_POOL_SIZE: '5',
      ...databaseSettings(),
      REDIS_URL: options.redisUrl ?? redisUrl,
      REDIS_PREFIX: freshRedisPrefix(),
      LOG_LEVEL: 'silent',
      ...options.env,
    });
    const services = await createServices(config, { logger, blobs: createMemoryBlobStore() });
    try {
      await migrate(services.store.db);
    } catch (err) {
      await services.close();
      await database.drop();
      throw err;
    }
    return {
      services,
      config,
      cleanup: async () => {
        await services.close();
        await database.drop();
      },
    };
  }
  const config = loadConfig('standalone', {
    DATA_DIR: '/nonexistent-test-data',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const db = await openDatabase({ kind: 'pglite' });
  await migrate(db);
  // The in-memory database keeps its file contents in memory too.
  const services = await createServices(config, { logger, database: db, blobs: createMemoryBlobStore() });
  return { services, config, cleanup: () => services.close() };
}

/** The API on a free port of 127.0.0.1. */
export function startTestApi(
  services: Services,
  options: Omit<ApiOptions, 'lifecycle'> = {},
): Promise<ApiServer> {
  return startApiServer(services, { ...options, host: '127.0.0.1', port: 0 });
}

/** A user with a fresh token. */
export async function createTestUser(
  services: Services,
  name: string,
  isAdmin = false,
): Promise<{ user: User; token: string }> {
  const user = await services.store.users.create({ name, isAdmin });
  const { token } = await services.store.tokens.issue(user.id, 'test');
  return { user, token };
}

/** The bootstrap administrator with `testAdminToken`. */
export async function createTestAdmin(services: Services): Promise<{ user: User; token: string }> {
  const user = await ensureAdmin(services, testAdminToken);
  return { user, token: testAdminToken };
}
