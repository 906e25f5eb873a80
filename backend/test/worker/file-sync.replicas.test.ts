import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBlobStore } from '../../src/blobs/index.js';
import { createFileSync, type FileSync } from '../../src/engine/index.js';
import type { ManagedSandboxOrchestrator } from '../../src/sandbox/index.js';
import { createStore, type Database, migrate, openDatabase, type Store } from '../../src/store/index.js';
import { createPool, makeRoot, removeRoot } from '../sandbox/support.js';
import { freshPostgresDatabase } from '../support/services.js';

/**
 * Two worker replicas (two sandbox roots, two connection pools) against one PostgreSQL: what one
 * execution writes on replica A is what the next one sees on replica B, and the other way round.
 */
describe('file sync across replicas (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  const dbs: Database[] = [];
  let storeA: Store;
  let storeB: Store;
  let rootA: string;
  let rootB: string;
  let poolA: ManagedSandboxOrchestrator;
  let poolB: ManagedSandboxOrchestrator;
  let userId: string;
  /** Each sync step in a lease of the replica's own sandbox pool. */
  const prepare = async (sync: FileSync, pool: ManagedSandboxOrchestrator) => {
    const lease = await pool.acquire(userId);
    try {
      return await sync.prepare(lease);
    } finally {
      lease.release();
    }
  };
  const collect = async (sync: FileSync, pool: ManagedSandboxOrchestrator) => {
    const lease = await pool.acquire(userId);
    return sync.collect(lease, { onClose: () => lease.release() });
  };
  /** Plays the user's code: what it writes belongs to the sandbox's uid. */
  const write = async (file: string, content: string, append = false) => {
    const owner = await fs.stat(path.dirname(path.dirname(file)));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.lchown(path.dirname(file), owner.uid, owner.gid);
    await (append ? fs.appendFile(file, content) : fs.writeFile(file, content));
    await fs.lchown(file, owner.uid, owner.gid);
  };

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    for (let i = 0; i < 2; i++)
      dbs.push(await openDatabase({ kind: 'postgres', url: database.url, poolSize: 2 }));
    await migrate(dbs[0] as Database);
    // Two replicas: two pools on one database, one blob store.
    const blobs = createMemoryBlobStore();
    storeA = createStore(dbs[0] as Database, { blobs });
    storeB = createStore(dbs[1] as Database, { blobs });
    userId = (await storeA.users.create({ name: 'sync-user' })).id;
    rootA = await makeRoot();
    rootB = await makeRoot();
    poolA = await createPool(rootA, 'process');
    poolB = await createPool(rootB, 'process');
  });
  afterAll(async () => {
    await poolA?.shutdown();
    await poolB?.shutdown();
    for (const db of dbs) await db.close();
    await database?.drop();
    await removeRoot(rootA);
    await removeRoot(rootB);
  });

  it('hands files between replicas through the database', async () => {
    const syncA = createFileSync({ files: storeA.files, quotaBytes: 10_000, quotaFiles: 100 });
    const syncB = createFileSync({ files: storeB.files, quotaBytes: 10_000, quotaFiles: 100 });
    /** What the worker does with a write-back when it finishes the execution. */
    const commit = async (sync: FileSync, store: Store) => {
      const writeBack = await collect(sync, store === storeA ? poolA : poolB);
      await store.files.apply(userId, writeBack, writeBack.quotaBytes);
      writeBack.close(true);
      return writeBack.changes;
    };
    const onA = (p: string) => path.join(rootA, userId, p);
    const onB = (p: string) => path.join(rootB, userId, p);

    // Execution 1 on replica A writes two files.
    await prepare(syncA, poolA);
    await write(onA('outputs/result.json'), '{"n":1}');
    await write(onA('workspace/tmp/scratch.txt'), 'scratch');
    const first = await commit(syncA, storeA);
    expect(first.map((c) => c.change)).toEqual(['created', 'created']);

    // Execution 2 on replica B sees them, changes one and deletes the other.
    expect((await prepare(syncB, poolB)).restored).toBe(2);
    expect(await fs.readFile(onB('outputs/result.json'), 'utf8')).toBe('{"n":1}');
    await write(onB('outputs/result.json'), '{"n":2}');
    await fs.rm(onB('workspace/tmp/scratch.txt'));
    const second = await commit(syncB, storeB);
    expect(second.map((c) => `${c.change} ${c.path}`).sort()).toEqual([
      'deleted workspace/tmp/scratch.txt',
      'modified outputs/result.json',
    ]);

    // Execution 3 back on replica A: its stale copy is refreshed and the deleted file is gone.
    const third = await prepare(syncA, poolA);
    expect(third).toMatchObject({ restored: 1, removed: 1 });
    expect(await fs.readFile(onA('outputs/result.json'), 'utf8')).toBe('{"n":2}');
    await expect(fs.stat(onA('workspace/tmp/scratch.txt'))).rejects.toThrow();
    expect((await storeA.files.list(userId)).map((f) => f.path)).toEqual(['outputs/result.json']);
    expect(await storeB.files.usage(userId)).toBe(7);
  });
  it('keeps both of two concurrent edits of one file: the later one beside it as a conflict copy', async () => {
    const sync = (store: Store) =>
      createFileSync({ files: store.files, quotaBytes: 10_000, quotaFiles: 100 });
    const [syncA, syncB] = [sync(storeA), sync(storeB)];
    const store = (s: Store, writeBack: Awaited<ReturnType<FileSync['collect']>>, tag: string) =>
      s.files.apply(userId, { ...writeBack, conflictTag: tag }, writeBack.quotaBytes);
    await storeA.files.put(userId, 'workspace/ids.txt', Buffer.from('m-0\n'), 10_000);

    // Two executions of the user start from the same file on two replicas and each appends.
    await prepare(syncA, poolA);
    await prepare(syncB, poolB);
    await write(path.join(rootA, userId, 'workspace/ids.txt'), 'm-A\n', true);
    await write(path.join(rootB, userId, 'workspace/ids.txt'), 'm-B\n', true);
    const fromA = await collect(syncA, poolA);
    const fromB = await collect(syncB, poolB);
    expect((await store(storeA, fromA, 'aaaaaaaa')).conflicts).toEqual([]);
    expect((await store(storeB, fromB, 'bbbbbbbb')).conflicts).toEqual([
      { path: 'workspace/ids.txt', keptAs: 'workspace/ids (conflict bbbbbbbb).txt' },
    ]);
    fromA.close(true);
    fromB.close(true);

    const read = async (p: string) => (await storeA.files.get(userId, p))?.content.toString();
    expect(await read('workspace/ids.txt')).toBe('m-0\nm-A\n');
    expect(await read('workspace/ids (conflict bbbbbbbb).txt')).toBe('m-0\nm-B\n');
    // Replica B's next execution sees A's version and the copy; nothing is written back again.
    await prepare(syncB, poolB);
    expect(await fs.readFile(path.join(rootB, userId, 'workspace/ids.txt'), 'utf8')).toBe('m-0\nm-A\n');
    const last = await collect(syncB, poolB);
    expect(last.changes).toEqual([]);
    last.close(false);
  });
});
