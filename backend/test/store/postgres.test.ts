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
