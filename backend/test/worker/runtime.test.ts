import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import { migrate, openDatabase } from '../../src/store/index.js';
import { describeRuntimeScenarios } from './runtime.scenarios.js';

describeRuntimeScenarios('in-process queue and events, PGlite', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ipa-runtime-'));
  const config = loadConfig('standalone', { DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  const database = await openDatabase({ kind: 'pglite' });
  await migrate(database);
  const services = await createServices(config, { database, logger: createLogger('silent') });
  return {
    services,
    async cleanup() {
      await services.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
