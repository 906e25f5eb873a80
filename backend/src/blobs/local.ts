import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type BlobStore, blobKey, isSha256 } from './types.js';

const staleTemporaryMs = 60 * 60 * 1000;

function missing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Contents as files under one directory (standalone: DATA_DIR/blobs). A write goes to a temporary
 * name, is flushed to disk and then renamed into place, so a crash never leaves a partial blob
 * under a hash; temporaries a crash left behind are removed on a later open.
 */
export async function openLocalBlobStore(dir: string): Promise<BlobStore> {
  const root = path.resolve(dir);
  const tmp = path.join(root, 'tmp');
  // Temporaries of a crashed writer; another process may share the directory, so only old ones go.
  // Nothing is created before the first write.
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    const file = path.join(tmp, name);
    const age = Date.now() - (await stat(file).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (age > staleTemporaryMs) await rm(file, { force: true });
  }
  const fileOf = (sha256: string) => path.join(root, blobKey(sha256));

  return {
    kind: 'local',
    async put(sha256, content) {
      const target = fileOf(sha256);
      const temporary = path.join(tmp, randomUUID());
      await mkdir(tmp, { recursive: true, mode: 0o700 });
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await mkdir(path.dirname(target), { recursive: true });
      await rename(temporary, target);
    },
    async has(sha256) {
      try {
        return (await stat(fileOf(sha256))).isFile();
      } catch (err) {
        if (missing(err)) return false;
        throw err;
      }
    },
    async get(sha256) {
      try {
        return await readFile(fileOf(sha256));
      } catch (err) {
        if (missing(err)) return null;
        throw err;
      }
    },
    async stream(sha256, range) {
      // Opened before it is handed out, so a missing blob is a null here and not a stream error later.
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(fileOf(sha256), 'r');
      } catch (err) {
        if (missing(err)) return null;
        throw err;
      }
      return handle.createReadStream({ start: range?.start, end: range?.end });
    },
    async delete(sha256) {
      await rm(fileOf(sha256), { force: true });
    },
    async *list() {
      for (const fan of await readdir(root).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{2}$/.test(fan)) continue;
        for (const name of await readdir(path.join(root, fan)).catch(() => [] as string[])) {
          if (isSha256(name) && name.startsWith(fan)) yield name;
        }
      }
    },
    async close() {},
  };
}
