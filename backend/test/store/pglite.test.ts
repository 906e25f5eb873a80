import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalBlobStore } from '../../src/blobs/index.js';
import { createStore, migrate, openDatabase, schemaStatus } from '../../src/store/index.js';
import { databaseContract } from './database.contract.js';

databaseContract('PGlite (in memory)', async () => {
  const db = await openDatabase({ kind: 'pglite' });
  return { db, dispose: () => db.close() };
});

// Each open of an on-disk PGlite starts a WebAssembly PostgreSQL and replays its files: seconds
// each on a busy machine, so these tests get more time than the default.
const diskTestTimeoutMs = 120_000;

describe('PGlite on disk', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'ipa-store-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it(
    'keeps data across restarts and refuses a second opener while open',
    async () => {
      const dir = path.join(root, 'data', 'db');
      const first = await openDatabase({ kind: 'pglite', dir });
      try {
        await expect(openDatabase({ kind: 'pglite', dir })).rejects.toThrow(/already open/);
        expect((await migrate(first)).applied.length).toBeGreaterThan(0);
        const store = createStore(first, {
          blobs: await openLocalBlobStore(path.join(root, 'data', 'blobs')),
        });
        const user = await store.users.create({ name: 'persistent' });
        await store.files.put(user.id, 'outputs/report.txt', Buffer.from('kept'), 100);
        // The database cannot do the work of a nested transaction on its one connection: it says so
        // at once instead of waiting forever.
        await expect(first.transaction(() => first.query('SELECT 1'))).rejects.toThrow(/transaction handle/);
        await expect(first.transaction(() => first.transaction(async () => 1))).rejects.toThrow(
          /transaction handle/,
        );
        // Work that a transaction merely started (a timer) may use the database once it has ended.
        const { later } = await first.transaction(async () => ({
          later: new Promise((done) => setTimeout(done, 30)).then(() => first.query('SELECT 1')),
        }));
        expect(await later).toMatchObject({ rowCount: 1 });
      } finally {
        await first.close();
        await first.close();
      }
      const again = await openDatabase({ kind: 'pglite', dir });
      try {
        expect(await schemaStatus(again)).toEqual({ current: true, pending: [] });
        const store = createStore(again, {
          blobs: await openLocalBlobStore(path.join(root, 'data', 'blobs')),
        });
        const [user] = (await store.users.list()).items;
        expect(user?.name).toBe('persistent');
        expect((await store.files.get(user!.id, 'outputs/report.txt'))?.content.toString()).toBe('kept');
      } finally {
        await again.close();
      }
    },
    diskTestTimeoutMs,
  );

  it(
    'refuses a directory held by another live process and takes over a stale lock',
    async () => {
      const dir = path.join(root, 'locked');
      // The parent process of this test run is alive and is not this process.
      await writeFile(`${dir}.lock`, String(process.ppid));
      await expect(openDatabase({ kind: 'pglite', dir })).rejects.toThrow(/in use by process/);
      await writeFile(`${dir}.lock`, '999999999');
      const db = await openDatabase({ kind: 'pglite', dir });
      try {
        expect(await readFile(`${dir}.lock`, 'utf8')).toBe(String(process.pid));
        await db.ping();
      } finally {
        await db.close();
      }
      await expect(readFile(`${dir}.lock`, 'utf8')).rejects.toThrow();
      await expect(db.ping()).rejects.toThrow(/closed/);
      // A container restarted on the same volume often gets the same pid as before.
      await writeFile(`${dir}.lock`, String(process.pid));
      const restarted = await openDatabase({ kind: 'pglite', dir });
      await restarted.close();
    },
    diskTestTimeoutMs,
  );
});
