import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import { migrate } from '../../src/store/index.js';
import { databaseSettings, freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../support/services.js';
import { describeRuntimeScenarios } from './runtime.scenarios.js';

describeRuntimeScenarios('BullMQ on Redis, PostgreSQL', async () => {
  const database = await freshPostgresDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'ipa-runtime-'));
  const config = loadConfig('worker', {
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    ...databaseSettings(),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: freshRedisPrefix(),
    LOG_LEVEL: 'silent',
    QUEUE_STALLED_INTERVAL_MS: '2000',
  });
  const services = await createServices(config, { logger: createLogger('silent') });
  await migrate(services.store.db);
  return {
    services,
    async cleanup() {
      await services.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
