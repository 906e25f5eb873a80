import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlobStore, openLocalBlobStore } from '../../src/blobs/index.js';
import { collectGarbage, moveInlineContents, sweepOrphans } from '../../src/store/blob-maintenance.js';
import {
  createStore,
  type Database,
  migrate,
  migrations,
  openDatabase,
  type Store,
} from '../../src/store/index.js';
import { freshPostgresDatabase } from '../support/services.js';

const silent = { warn: () => {} };
const quota = 10_000_000;
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function stored(blobs: BlobStore): Promise<string[]> {
  const all: string[] = [];
  for await (const hash of blobs.list()) all.push(hash);
  return all.sort();
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Files in blob storage on PostgreSQL with two pools (two replicas) over one blob directory. */
describe('files in blob storage (PostgreSQL)', { timeout: 120_000 }, () => {
  let fresh: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let dir: string;
  let dbs: Database[];
  let blobs: BlobStore;
  let store: Store;
  let other: Store;

  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'ipa-blob-files-'));
    dbs = await Promise.all(
      [0, 1].map(() => openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 8, logger: silent })),
    );
    await migrate(dbs[0]!);
    blobs = await openLocalBlobStore(dir);
    store = createStore(dbs[0]!, { blobs });
    other = createStore(dbs[1]!, { blobs });
  });
  afterAll(async () => {
    await Promise.all((dbs ?? []).map((db) => db.close()));
    await fresh?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const newUser = () => store.users.create({ name: `u-${Math.random().toString(36).slice(2, 10)}` });

  it('stores identical contents once and keeps only metadata in PostgreSQL', async () => {
    const [a, b] = [await newUser(), await newUser()];
    const content = Buffer.from('the same bytes, twice');
    await store.files.put(a.id, 'uploads/one.txt', content, quota);
    await other.files.put(b.id, 'uploads/two.txt', content, quota);
    expect((await stored(blobs)).filter((h) => h === sha(content))).toHaveLength(1);
    const { rows } = await dbs[0]!.query<{ inline: number }>(
      'SELECT count(*)::int AS inline FROM files WHERE content IS NOT NULL',
    );
    expect(rows[0]?.inline).toBe(0);
    expect((await other.files.get(a.id, 'uploads/one.txt'))?.content.equals(content)).toBe(true);
  });

  it('streams a file and any range of it without reading it whole', async () => {
    const user = await newUser();
    const content = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 256));
    await store.files.put(user.id, 'outputs/data.bin', content, quota);
    const whole = await store.files.open(user.id, 'outputs/data.bin');
    expect(whole?.size).toBe(100_000);
    expect((await readAll(whole!.content)).equals(content)).toBe(true);
    const part = await store.files.open(user.id, 'outputs/data.bin', () => ({ start: 10, end: 99 }));
    expect((await readAll(part!.content)).equals(content.subarray(10, 100))).toBe(true);
    expect(await store.files.open(user.id, 'outputs/missing.bin')).toBeNull();
  });

  it('a crash between the content write and the metadata commit leaves only an unreferenced blob, which upkeep removes', async () => {
    const user = await newUser();
    const crashAfterContent = Buffer.from('written, never committed (the write failed after it)');
    const crashBeforeCommit = Buffer.from('written and upserted, the commit never came');
    // The content is written, then the process dies before the metadata transaction commits.
    const failing: BlobStore = {
      ...blobs,
      async put(hash, content) {
        await blobs.put(hash, content);
        throw new Error('killed after the content write');
      },
    };
    await expect(
      createStore(dbs[0]!, { blobs: failing }).files.put(user.id, 'uploads/a.txt', crashAfterContent, quota),
    ).rejects.toThrow(/killed/);
    await expect(
      store.transaction(async (tx) => {
        await tx.files.put(user.id, 'uploads/b.txt', crashBeforeCommit, quota);
        throw new Error('killed before the commit');
      }),
    ).rejects.toThrow(/killed/);
    expect(await store.files.list(user.id)).toEqual([]);
    expect(await stored(blobs)).toEqual(
      expect.arrayContaining([sha(crashAfterContent), sha(crashBeforeCommit)]),
    );
    await collectGarbage(dbs[0]!, blobs);
    expect(await sweepOrphans(dbs[1]!, blobs)).toBeGreaterThanOrEqual(2);
    const left = await stored(blobs);
    expect(left).not.toContain(sha(crashAfterContent));
    expect(left).not.toContain(sha(crashBeforeCommit));
    // Committed files elsewhere kept their contents.
    const referenced = await dbs[0]!.query<{ sha256: string }>('SELECT DISTINCT sha256 FROM files');
    for (const { sha256 } of referenced.rows) expect(left).toContain(sha256);
  });

  it('collects a blob once its last reference is gone, and never one a committed file references', async () => {
    const [a, b] = [await newUser(), await newUser()];
    const content = Buffer.from('shared by two files');
    await store.files.put(a.id, 'uploads/x', content, quota);
    await store.files.put(b.id, 'uploads/y', content, quota);
    await store.files.delete(a.id, 'uploads/x');
    await collectGarbage(dbs[0]!, blobs);
    expect(await stored(blobs)).toContain(sha(content));
    await store.files.put(b.id, 'uploads/y', Buffer.from('replaced'), quota);
    await collectGarbage(dbs[1]!, blobs);
    expect(await stored(blobs)).not.toContain(sha(content));
  });

  it('never deletes a referenced blob while uploads, replacements and deletes run beside two collectors', async () => {
    const users = await Promise.all([newUser(), newUser(), newUser()]);
    // Few distinct contents, so uploads keep re-using hashes the collectors are looking at.
    const contents = Array.from({ length: 4 }, (_, i) => Buffer.from(`content ${i} `.repeat(200 + i)));
    let uploading = true;
    let rounds = 0;
    const collector = async (db: Database) => {
      while (uploading) {
        await collectGarbage(db, blobs, 2);
        await sweepOrphans(db, blobs);
        rounds++;
      }
    };
    const writer = async (userIndex: number) => {
      const user = users[userIndex]!;
      const s = userIndex % 2 === 0 ? store : other;
      for (let i = 0; i < 40; i++) {
        const content = contents[(i + userIndex) % contents.length]!;
        const filePath = `workspace/f${i % 3}`;
        if (i % 5 === 4) await s.files.delete(user.id, filePath);
        else await s.files.put(user.id, filePath, content, quota);
        // Every committed file reads back whole, from the other replica too.
        for (const file of await s.files.list(user.id)) {
          const read = await (s === store ? other : store).files.get(user.id, file.path);
          if (read) expect(sha(read.content)).toBe(read.sha256);
        }
      }
    };
    const collectors = [collector(dbs[0]!), collector(dbs[1]!)];
    await Promise.all(users.map((_, i) => writer(i)));
    uploading = false;
    await Promise.all(collectors);
    expect(rounds).toBeGreaterThan(2);
    await collectGarbage(dbs[0]!, blobs);
    await sweepOrphans(dbs[0]!, blobs);
    const { rows } = await dbs[0]!.query<{ sha256: string }>(
      'SELECT DISTINCT sha256 FROM files ORDER BY sha256',
    );
    const left = await stored(blobs);
    // Exactly the referenced contents remain: nothing referenced went, nothing unreferenced stayed.
    expect(left).toEqual(rows.map((r) => r.sha256).sort());
    for (const user of users) {
      for (const file of await store.files.list(user.id)) {
        expect((await store.files.get(user.id, file.path))?.content.length).toBe(file.size);
      }
    }
  });
});

describe('moving contents out of PostgreSQL (0008_blobs)', { timeout: 120_000 }, () => {
  it('keeps old files readable, moves them in resumable batches while the platform serves', async () => {
    const fresh = await freshPostgresDatabase();
    const dir = await mkdtemp(path.join(tmpdir(), 'ipa-blob-move-'));
    const db = await openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 4, logger: silent });
    try {
      // The schema as it was before blob storage, with contents inside the rows.
      const before = migrations.slice(
        0,
        migrations.findIndex((m) => m.id === '0008_blobs'),
      );
      await db.transaction(async (tx) => {
        await tx.query(
          'CREATE TABLE schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
        );
        for (const m of before) {
          for (const statement of m.statements) await tx.query(statement);
          await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
        }
      });
      const { rows } = await db.query<{ id: string }>("INSERT INTO users (name) VALUES ('old') RETURNING id");
      const userId = rows[0]!.id;
      const old = Array.from({ length: 5 }, (_, i) => Buffer.from(`old file ${i}`));
      for (const [i, content] of old.entries()) {
        await db.query(
          'INSERT INTO files (user_id, path, size, sha256, content) VALUES ($1, $2, $3, $4, $5)',
          [userId, `uploads/old-${i}.txt`, content.length, sha(content), content],
        );
      }
      expect((await migrate(db)).applied).toContain('0008_blobs');
      const blobs = await openLocalBlobStore(dir);
      const store = createStore(db, { blobs });
      // Served from the row until moved.
      expect((await store.files.get(userId, 'uploads/old-0.txt'))?.content.equals(old[0]!)).toBe(true);
      // The mover stops half-way (the blob store fails on the third content) ...
      let puts = 0;
      const flaky: BlobStore = {
        ...blobs,
        async put(hash, content) {
          if (++puts === 3) throw new Error('blob store unavailable');
          await blobs.put(hash, content);
        },
      };
      await expect(moveInlineContents(db, flaky, 2)).rejects.toThrow(/unavailable/);
      const inline = async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM files WHERE content IS NOT NULL'))
          .rows[0]?.n;
      expect(await inline()).toBe(3);
      // ... while a user replaces a file still inline and reads the others.
      await store.files.put(userId, 'uploads/old-4.txt', Buffer.from('new'), quota);
      for (let i = 0; i < 4; i++)
        expect((await store.files.get(userId, `uploads/old-${i}.txt`))?.content.equals(old[i]!)).toBe(true);
      // ... and resumes where it stopped.
      expect(await moveInlineContents(db, blobs, 2)).toBe(2);
      expect(await inline()).toBe(0);
      await collectGarbage(db, blobs);
      for (let i = 0; i < 4; i++)
        expect((await store.files.get(userId, `uploads/old-${i}.txt`))?.content.equals(old[i]!)).toBe(true);
      expect((await store.files.get(userId, 'uploads/old-4.txt'))?.content.toString()).toBe('new');
      expect(await stored(blobs)).not.toContain(sha(old[4]!));
    } finally {
      await db.close();
      await fresh.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
