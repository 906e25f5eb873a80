import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/store/index.js';
import { startPgBouncer } from '../support/pgbouncer.js';
import { useDistributedTestPlatforms } from '../support/platform.js';
import { freshPostgresDatabase, routeDatabasesThrough } from '../support/services.js';
import { databaseContract } from './database.contract.js';

/**
 * The store contract and the API and worker scenario suites again, with every connection of the
 * platform through PgBouncer in transaction pooling mode (few server connections, so a session
 * setting, a session advisory lock or a named prepared statement would reach another client).
 * Databases are still created and dropped on PostgreSQL directly.
 */
const bouncer = await startPgBouncer({ poolSize: 4 });
routeDatabasesThrough(bouncer.url);
useDistributedTestPlatforms();
afterAll(() => bouncer.stop());

const silent = { warn: () => {} };

databaseContract('PostgreSQL through PgBouncer (transaction pooling)', async () => {
  const fresh = await freshPostgresDatabase();
  const opened: Database[] = [];
  const open = async () => {
    const db = await openDatabase({
      kind: 'postgres',
      url: fresh.url,
      poolSize: 4,
      preparedStatements: false,
      logger: silent,
    });
    opened.push(db);
    return db;
  };
  return {
    db: await open(),
    connectAgain: open,
    async dispose() {
      await Promise.all(opened.map((db) => db.close()));
      await fresh.drop();
    },
  };
});

describe('API routes through PgBouncer', async () => {
  await import('../api/routes.test.js');
});
describe('API events through PgBouncer', async () => {
  await import('../api/events.test.js');
});
describe('API bad input through PgBouncer', async () => {
  await import('../api/bad-input.test.js');
});
describe('worker scenarios through PgBouncer', async () => {
  await import('../worker/runtime.distributed.test.js');
});

describe('prepared statements through PgBouncer in transaction mode', () => {
  // What DATABASE_PREPARED_STATEMENTS=false is for: two platform processes share one server
  // connection between their transactions, and each names its first statement alike.
  it('fail without DATABASE_PREPARED_STATEMENTS=false, and work with it', async () => {
    const single = await startPgBouncer({ poolSize: 1 });
    const fresh = await freshPostgresDatabase();
    const url = new URL(fresh.url);
    const through = new URL(single.url);
    url.host = through.host;
    const open = (preparedStatements: boolean) =>
      openDatabase({
        kind: 'postgres',
        url: url.toString(),
        poolSize: 1,
        preparedStatements,
        logger: silent,
      });
    const opened: Database[] = [];
    try {
      const [first, second] = [await open(true), await open(true)];
      opened.push(first, second);
      await first.query('SELECT $1::int AS n', [1]);
      await expect(second.query('SELECT $1::text AS s', ['x'])).rejects.toMatchObject({
        code: expect.stringMatching(/^(42P05|26000)$/),
      });
      const [third, fourth] = [await open(false), await open(false)];
      opened.push(third, fourth);
      expect((await third.query('SELECT $1::int AS n', [1])).rows).toEqual([{ n: 1 }]);
      expect((await fourth.query('SELECT $1::text AS s', ['x'])).rows).toEqual([{ s: 'x' }]);
    } finally {
      await Promise.all(opened.map((db) => db.close()));
      await single.stop();
      await fresh.drop();
    }
  });
});

describe('session state in the platform', () => {
  // Named statements come only from the store's prepared statements, which
  // DATABASE_PREPARED_STATEMENTS=false turns off (as every platform in this file has it).
  it('uses none: no session advisory locks, session SET, LISTEN, PREPARE or ad-hoc named statements', async () => {
    const root = path.resolve(import.meta.dirname, '../../src');
    const sources = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ts'));
    const sessionState = [
      /pg_(try_)?advisory_lock(_shared)?\s*\(/i,
      /['"`]\s*SET\s+(SESSION\s+)?[a-z_]+\s*(=|TO)/i,
      /['"`]\s*(LISTEN|UNLISTEN|PREPARE|DECLARE)\s/i,
      /\bname:\s*['"`][^'"`]+['"`],\s*text:/,
    ];
    const found: string[] = [];
    for (const file of sources) {
      const text = await readFile(path.join(root, file), 'utf8');
      for (const pattern of sessionState) if (pattern.test(text)) found.push(`${file}: ${pattern}`);
    }
    expect(found).toEqual([]);
  });
});
