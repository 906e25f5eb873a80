import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureBlobStore } from '../../src/blobs/azure.js';
import {
  type BlobStore,
  createDatabaseBlobStore,
  createMemoryBlobStore,
  openLocalBlobStore,
} from '../../src/blobs/index.js';
import { createS3BlobStore } from '../../src/blobs/s3.js';
import { migrate, openDatabase } from '../../src/store/index.js';
import { type RunningServer, startAzurite, startS3Server } from '../support/blob-servers.js';
import { freshPostgresDatabase } from '../support/services.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function listAll(store: BlobStore): Promise<string[]> {
  const all: string[] = [];
  for await (const hash of store.list()) all.push(hash);
  return all.sort();
}

/** What every implementation promises (`BlobStore`), against a real server where there is one. */
function blobStoreContract(
  name: string,
  open: () => Promise<{ store: BlobStore; dispose(): Promise<void> }>,
) {
  describe(`BlobStore contract: ${name}`, { timeout: 60_000 }, () => {
    let store: BlobStore;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    }, 90_000);
    afterAll(() => dispose?.());

    it('stores content under its hash, reads it whole, streamed and by range, and deletes it', async () => {
      const content = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
      const hash = sha(content);
      expect(await store.has(hash)).toBe(false);
      expect(await store.get(hash)).toBeNull();
      expect(await store.stream(hash)).toBeNull();
      await store.put(hash, content);
      await store.put(hash, content); // idempotent
      expect(await store.has(hash)).toBe(true);
      expect((await store.get(hash))?.equals(content)).toBe(true);
      expect((await readAll((await store.stream(hash))!)).equals(content)).toBe(true);
      const part = await readAll((await store.stream(hash, { start: 100, end: 65_635 }))!);
      expect(part.equals(content.subarray(100, 65_636))).toBe(true);
      const last = await readAll((await store.stream(hash, { start: 69_999, end: 69_999 }))!);
      expect(last.equals(content.subarray(69_999))).toBe(true);
      expect(await listAll(store)).toContain(hash);
      await store.delete(hash);
      await store.delete(hash); // absent: not an error
      expect(await store.has(hash)).toBe(false);
      expect(await store.get(hash)).toBeNull();
      expect(await listAll(store)).not.toContain(hash);
    });

    it('stores empty content', async () => {
      const empty = Buffer.alloc(0);
      await store.put(sha(empty), empty);
      expect((await store.get(sha(empty)))?.length).toBe(0);
      await store.delete(sha(empty));
    });

    it('lists every stored hash once, across pages', async () => {
      const contents = Array.from({ length: 12 }, (_, i) => Buffer.from(`blob ${i} of ${name}`));
      await Promise.all(contents.map((c) => store.put(sha(c), c)));
      const listed = await listAll(store);
      for (const c of contents) expect(listed.filter((h) => h === sha(c))).toHaveLength(1);
      await Promise.all(contents.map((c) => store.delete(sha(c))));
    });

    it('refuses a key that is not a SHA-256 digest before it reaches a path or URL', async () => {
      for (const bad of ['../../etc/passwd', 'A'.repeat(64), `${'a'.repeat(63)}/`, '']) {
        await expect(store.put(bad, Buffer.from('x'))).rejects.toThrow(RangeError);
        await expect(store.get(bad)).rejects.toThrow(RangeError);
        await expect(store.delete(bad)).rejects.toThrow(RangeError);
      }
    });
  });
}

blobStoreContract('memory', async () => ({ store: createMemoryBlobStore(), dispose: async () => {} }));

blobStoreContract('local directory', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipa-blobs-'));
  return { store: await openLocalBlobStore(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
});

blobStoreContract('PostgreSQL table', async () => {
  const fresh = await freshPostgresDatabase();
  const db = await openDatabase({
    kind: 'postgres',
    url: fresh.url,
    poolSize: 3,
    logger: { warn: () => {} },
  });
  await migrate(db);
  return {
    store: createDatabaseBlobStore(db),
    async dispose() {
      await db.close();
      await fresh.drop();
    },
  };
});

let s3: RunningServer<Parameters<typeof createS3BlobStore>[0]> | undefined;
blobStoreContract('S3 (s3rver)', async () => {
  s3 = await startS3Server();
  const store = createS3BlobStore(s3.options);
  return {
    store,
    async dispose() {
      await store.close();
      await s3?.stop();
    },
  };
});

blobStoreContract('Azure Blob (Azurite)', async () => {
  const azurite = await startAzurite();
  const store = createAzureBlobStore(azurite.options);
  return {
    store,
    async dispose() {
      await store.close();
      await azurite.stop();
    },
  };
});

describe('local blob store on disk', () => {
  it('never shows a partial blob, and removes only stale temporaries of a crashed writer', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ipa-blobs-'));
    try {
      await mkdir(path.join(dir, 'tmp'));
      const stale = path.join(dir, 'tmp', 'crashed-writer');
      const fresh = path.join(dir, 'tmp', 'writer-in-flight');
      await writeFile(stale, 'partial');
      await writeFile(fresh, 'partial');
      const { utimes } = await import('node:fs/promises');
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      await utimes(stale, twoHoursAgo, twoHoursAgo);
      const store = await openLocalBlobStore(dir);
      expect((await readdir(path.join(dir, 'tmp'))).sort()).toEqual(['writer-in-flight']);
      expect(await listAll(store)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
