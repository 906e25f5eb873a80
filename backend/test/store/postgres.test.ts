import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, migrate, openDatabase } from '../../src/store/index.js';
import { freshPostgresDatabase } from '../support/services.js';
import { databaseContract } from './database.contract.js';
import { TcpProxy } from './tcp-proxy.js';

const silent = { warn: () => {} };

databaseContract('PostgreSQL', async () => {
  const fresh = await freshPostgresDatabase();
  const opened: Database[] = [];
  const open = async () => {
    const db = await openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 4, logger: silent });
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

describe('PostgreSQL outages', () => {
  let fresh: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let proxy: TcpProxy;
  let db: Database;
  const warnings: string[] = [];

  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
    const target = new URL(fresh.url);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const url = new URL(fresh.url);
    url.port = String(proxy.port);
    db = await openDatabase({
      kind: 'postgres',
      url: url.toString(),
      poolSize: 2,
      logger: { warn: (_obj: unknown, message?: string) => warnings.push(String(message)) },
    });
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await proxy?.stop();
    await fresh?.drop();
  });

  it('fails fast while the server is unreachable, survives dropped connections and recovers', async () => {
    await db.ping();
    await Promise.all([db.query('SELECT 1'), db.query('SELECT 2')]);
    // A transaction that has run its first query and goes on only once the connections are cut.
    let midTransaction!: () => void;
    const inTransaction = new Promise<void>((resolve) => {
      midTransaction = resolve;
    });
    let goOn!: () => void;
    const cut = new Promise<void>((resolve) => {
      goOn = resolve;
    });
    const slowTx = db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      midTransaction();
      await cut;
      await tx.query('SELECT 2');
    });
    await inTransaction;
    // Cut every connection (idle ones and one in the middle of a transaction) and stop listening.
    await proxy.pause();
    goOn();
    await expect(slowTx).rejects.toThrow();
    const started = Date.now();
    await expect(db.ping()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(4_000);
    await expect(db.query('SELECT 1')).rejects.toThrow();
    await proxy.resume();
    await db.ping();
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]?.n).toBeGreaterThan(0);
    expect(
      await db.transaction(async (tx) => (await tx.query<{ v: number }>('SELECT 7 AS v')).rows[0]?.v),
    ).toBe(7);
    expect(warnings.length).toBeGreaterThan(0);
  });

  it('rejects ping within a few seconds when nothing listens', async () => {
    const dead = await openDatabase({
      kind: 'postgres',
      url: 'postgres://postgres@127.0.0.1:1/nothing',
      logger: silent,
    });
    try {
      const started = Date.now();
      await expect(dead.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      await dead.close();
    }
  });
});

describe('PostgreSQL prepared statements', () => {
  let fresh: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  /** The statements the one pooled connection has prepared (the view is per connection). */
  const preparedOn = async (db: Database) =>
    (
      await db.query<{ statement: string }>(
        'SELECT statement FROM pg_prepared_statements WHERE name LIKE $1 ORDER BY statement',
        ['ipa\\_%'],
      )
    ).rows.map((row) => row.statement);

  it('prepares a statement with parameters once per connection and reuses it, in and out of transactions', async () => {
    const db = await openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 1, logger: silent });
    try {
      for (let n = 0; n < 3; n++)
        expect((await db.query('SELECT $1::int + 1 AS n', [n])).rows).toEqual([{ n: n + 1 }]);
      const inTx = await db.transaction(async (tx) => (await tx.query('SELECT $1::text AS s', ['x'])).rows);
      expect(inTx).toEqual([{ s: 'x' }]);
      // A text without parameters goes the simple way and is not kept.
      await db.query('SELECT 1');
      expect(await preparedOn(db)).toEqual([
        'SELECT $1::int + 1 AS n',
        'SELECT $1::text AS s',
        'SELECT statement FROM pg_prepared_statements WHERE name LIKE $1 ORDER BY statement',
      ]);
      // Prepared once, executed three times (the plans counted are the executions').
      const { rows } = await db.query<{ runs: number }>(
        'SELECT (custom_plans + generic_plans)::int AS runs FROM pg_prepared_statements WHERE statement = $1',
        ['SELECT $1::int + 1 AS n'],
      );
      expect(rows).toEqual([{ runs: 3 }]);
    } finally {
      await db.close();
    }
  });

  it('recovers from a statement a migration made stale, in and out of transactions', async () => {
    const db = await openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 1, logger: silent });
    const other = await openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 1, logger: silent });
    try {
      await other.query('CREATE TABLE stale_plan (v int)');
      await other.query('INSERT INTO stale_plan VALUES (1)');
      const read = (q: { query: Database['query'] }) =>
        q.query('SELECT v FROM stale_plan WHERE $1::int IS NOT NULL', [1]);
      const inTransaction = () => db.transaction((tx) => read(tx));
      expect((await inTransaction()).rows).toEqual([{ v: 1 }]);
      expect((await read(db)).rows).toEqual([{ v: 1 }]);
      // Another replica's migration changes the result type under the prepared plan.
      await other.query('ALTER TABLE stale_plan ALTER COLUMN v TYPE text');
      await expect(inTransaction()).rejects.toMatchObject({ code: '0A000' });
      // The connection that held the stale statement is gone; the next one prepares it afresh.
      expect((await inTransaction()).rows).toEqual([{ v: '1' }]);
      await other.query('ALTER TABLE stale_plan ALTER COLUMN v TYPE int USING v::int');
      await expect(read(db)).rejects.toMatchObject({ code: '0A000' });
      expect((await read(db)).rows).toEqual([{ v: 1 }]);
    } finally {
      await db.close();
      await other.close();
    }
  });

  it('prepares nothing when DATABASE_PREPARED_STATEMENTS is off (a transaction-pooling PgBouncer)', async () => {
    const db = await openDatabase({
      kind: 'postgres',
      url: fresh.url,
      poolSize: 1,
      preparedStatements: false,
      logger: silent,
    });
    try {
      expect((await db.query('SELECT $1::int + 1 AS n', [1])).rows).toEqual([{ n: 2 }]);
      expect(await preparedOn(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
