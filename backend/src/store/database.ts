import { createLogger, type Logger } from '../observability/logger.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import type { Database } from './types.js';

export type DatabaseConfig =
  | {
      kind: 'postgres';
      url: string;
      poolSize?: number;
      /** Named statements, prepared once per connection (default true); see `openPostgres`. */
      preparedStatements?: boolean;
      logger?: Pick<Logger, 'warn'>;
    }
  | { kind: 'pglite'; dir?: string };

/**
 * Opens the configured database: PostgreSQL (a connection pool) when DATABASE_URL is set, else
 * the embedded PGlite on disk under `dir` (in memory when `dir` is undefined, as tests use it).
 */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  if (config.kind === 'postgres') {
    const database = openPostgres({
      url: config.url,
      poolSize: config.poolSize,
      preparedStatements: config.preparedStatements,
      logger: config.logger ?? createLogger('warn', 'ipa.store'),
    });
    return database;
  }
  if (config.kind === 'pglite') return openPglite({ dir: config.dir });
  throw new Error(`unknown database kind ${String((config as { kind: unknown }).kind)}`);
}
