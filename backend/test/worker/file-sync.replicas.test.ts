import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBlobStore } from '../../src/blobs/index.js';
import { createFileSync, type FileSync } from '../../src/engine/index.js';
import { createStore, type Database, migrate, openDatabase, type Store } from '../../src/store/index.js';
import { tempDir } from '../engine/support/doubles.js';
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
  let userId: string;

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
    rootA = await tempDir('ipa-podA-');
    rootB = await tempDir('ipa-podB-');
  });
  afterAll(async () => {
    for (const db of dbs) await db.close();
    await database?.drop();
    await fs.rm(rootA, { recursive: true, force: true });
    await fs.rm(rootB, { recursive: true, force: true });
  });

  it('hands files between replicas through the database', async () => {
    const syncA = createFileSync({
      files: storeA.files,
      userDir: (id) => path.join(rootA, id),
      quotaBytes: 10_000,
    });
    const syncB = createFileSync({
      files: storeB.files,
      userDir: (id) => path.join(rootB, id),
      quotaBytes: 10_000,
    });
    /** What the worker does with a write-back when it finishes the execution. */
    const commit = async (sync: FileSync, store: Store) => {
      const writeBack = await sync.collect(userId);
      await store.files.apply(userId, writeBack, writeBack.quotaBytes);
      writeBack.close(true);
      return writeBack.changes;
    };
    const onA = (p: string) => path.join(rootA, userId, p);
    const onB = (p: string) => path.join(rootB, userId, p);

    // Execution 1 on replica A writes two files.
    await syncA.prepare(userId);
    await fs.writeFile(onA('outputs/result.json'), '{"n":1}');
    await fs.mkdir(onA('workspace/tmp'), { recursive: true });
    await fs.writeFile(onA('workspace/tmp/scratch.txt'), 'scratch');
    const first = await commit(syncA, storeA);
    expect(first.map((c) => c.change)).toEqual(['created', 'created']);

    // Execution 2 on replica B sees them, changes one and deletes the other.
    expect((await syncB.prepare(userId)).restored).toBe(2);
    expect(await fs.readFile(onB('outputs/result.json'), 'utf8')).toBe('{"n":1}');
    await fs.writeFile(onB('outputs/result.json'), '{"n":2}');
    await fs.rm(onB('workspace/tmp/scratch.txt'));
    const second = await commit(syncB, storeB);
    expect(second.map((c) => `${c.change} ${c.path}`).sort()).toEqual([
      'deleted workspace/tmp/scratch.txt',
      'modified outputs/result.json',
    ]);

    // Execution 3 back on replica A: its stale copy is refreshed and the deleted file is gone.
    const third = await syncA.prepare(userId);
    expect(third).toMatchObject({ restored: 1, removed: 1 });
    expect(await fs.readFile(onA('outputs/result.json'), 'utf8')).toBe('{"n":2}');
    await expect(fs.stat(onA('workspace/tmp/scratch.txt'))).rejects.toThrow();
    expect((await storeA.files.list(userId)).map((f) => f.path)).toEqual(['outputs/result.json']);
    expect(await storeB.files.usage(userId)).toBe(7);
  });
  it('keeps both of two concurrent edits of one file: the later one beside it as a conflict copy', async () => {
    const sync = (root: string, store: Store) =>
      createFileSync({ files: store.files, userDir: (id) => path.join(root, id), quotaBytes: 10_000 });
    const [syncA, syncB] = [sync(rootA, storeA), sync(rootB, storeB)];
    const store = (s: Store, writeBack: Awaited<ReturnType<FileSync['collect']>>, tag: string) =>
      s.files.apply(userId, { ...writeBack, conflictTag: tag }, writeBack.quotaBytes);
    await storeA.files.put(userId, 'workspace/ids.txt', Buffer.from('m-0\n'), 10_000);

    // Two executions of the user start from the same file on two replicas and each appends.
    await syncA.prepare(userId);
    await syncB.prepare(userId);
    await fs.appendFile(path.join(rootA, userId, 'workspace/ids.txt'), 'm-A\n');
    await fs.appendFile(path.join(rootB, userId, 'workspace/ids.txt'), 'm-B\n');
    const fromA = await syncA.collect(userId);
    const fromB = await syncB.collect(userId);
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
    await syncB.prepare(userId);
    expect(await fs.readFile(path.join(rootB, userId, 'workspace/ids.txt'), 'utf8')).toBe('m-0\nm-A\n');
    expect((await syncB.collect(userId)).changes).toEqual([]);
  });
});
