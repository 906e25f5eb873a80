import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { recordMade } from './run-leftovers.js';

/**
 * Real services for integration tests. Every test file gets its own PostgreSQL database and its
 * own Redis key prefix, so files run in parallel without seeing each other's data.
 */
export const postgresAdminUrl =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * Where the platform under test connects: PostgreSQL itself, or a pooler in front of it
 * (`routeDatabasesThrough`); databases are always created and dropped on PostgreSQL directly.
 */
let clientBaseUrl = postgresAdminUrl;
let throughPooler = false;

/**
 * Hands out database URLs through `url` (host, port and user; the database name is kept): a
 * transaction-pooling PgBouncer, so platforms made for them do without prepared statements.
 */
export function routeDatabasesThrough(url: string): void {
  clientBaseUrl = url;
  throughPooler = true;
}

/** The settings a platform needs beside the URL `freshPostgresDatabase` hands out. */
export function databaseSettings(): Record<string, string> {
  // Debian's PgBouncer (1.18) cannot carry prepared statements in transaction mode.
  return throughPooler ? { DATABASE_PREPARED_STATEMENTS: 'false' } : {};
}

function databaseUrl(name: string): string {
  const url = new URL(clientBaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates an empty database and returns its URL plus a function that drops it. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `ipa_test_${randomBytes(6).toString('hex')}`;
  recordMade('database', name);
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(name),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A Redis key prefix no other test file uses. */
export function freshRedisPrefix(): string {
  const prefix = `ipatest${randomBytes(5).toString('hex')}`;
  recordMade('redis-prefix', prefix);
  return prefix;
}
