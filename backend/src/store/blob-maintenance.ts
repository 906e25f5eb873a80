import type { BlobStore } from '../blobs/types.js';
import { sha256Of } from './repositories/blob-refs.js';
import { toBuffer } from './sql.js';
import type { Database } from './types.js';

/**
 * The blob store's upkeep, safe to run in every replica at once and while files are written:
 *
 * - `collectGarbage` deletes blobs no file references. It locks each candidate's `blobs` row
 *   exclusively, skipping rows a writer holds (writers hold theirs shared until they commit), then
 *   looks for references again with a fresh snapshot, and deletes the content before the row, in
 *   the same transaction. A file committed with a hash therefore always finds its content: a
 *   writer either held the row first (the collector skips it) or creates it again after the
 *   collector's commit and writes the content anew.
 * - `sweepOrphans` removes contents that have no `blobs` row at all: left by a writer that crashed
 *   or rolled back after writing the content. Claiming such a hash inserts its row, which waits for
 *   a writer still in flight (whose uncommitted row holds the key) and fails when it committed.
 * - `moveInlineContents` copies contents stored inside PostgreSQL (before blob storage) to the blob
 *   store and clears them, a few rows at a time; it resumes wherever it stopped.
 */

export async function collectGarbage(db: Database, blobs: BlobStore, batch = 100): Promise<number> {
  let deleted = 0;
  let after = '';
  for (;;) {
    const { seen, gone } = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ sha256: string }>(
        `SELECT sha256 FROM blobs b
          WHERE sha256 > $1 AND NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = b.sha256)
          ORDER BY sha256 LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [after, batch],
      );
      const candidates = rows.map((row) => row.sha256);
      if (candidates.length === 0) return { seen: [], gone: [] };
      // A file may have committed a reference after the first statement's snapshot.
      const { rows: referenced } = await tx.query<{ sha256: string }>(
        'SELECT DISTINCT sha256 FROM files WHERE sha256 = ANY($1::text[])',
        [candidates],
      );
      const keep = new Set(referenced.map((row) => row.sha256));
      const unreferenced = candidates.filter((sha256) => !keep.has(sha256));
      for (const sha256 of unreferenced) await blobs.delete(sha256);
      await tx.query('DELETE FROM blobs WHERE sha256 = ANY($1::text[])', [unreferenced]);
      return { seen: candidates, gone: unreferenced };
    });
    deleted += gone.length;
    if (seen.length < batch) return deleted;
    after = seen[seen.length - 1] as string;
  }
}

export async function sweepOrphans(db: Database, blobs: BlobStore, batch = 500): Promise<number> {
  let removed = 0;
  const sweep = async (hashes: string[]) => {
    const { rows } = await db.query<{ sha256: string }>(
      'SELECT sha256 FROM blobs WHERE sha256 = ANY($1::text[])',
      [hashes],
    );
    const known = new Set(rows.map((row) => row.sha256));
    for (const sha256 of hashes) {
      if (known.has(sha256)) continue;
      removed += await db.transaction(async (tx) => {
        const claimed = await tx.query(
          'INSERT INTO blobs (sha256, size) VALUES ($1, 0) ON CONFLICT (sha256) DO NOTHING RETURNING sha256',
          [sha256],
        );
        if (claimed.rows.length === 0) return 0;
        await blobs.delete(sha256);
        await tx.query('DELETE FROM blobs WHERE sha256 = $1', [sha256]);
        return 1;
      });
    }
  };
  let hashes: string[] = [];
  for await (const sha256 of blobs.list()) {
    hashes.push(sha256);
    if (hashes.length >= batch) {
      await sweep(hashes);
      hashes = [];
    }
  }
  if (hashes.length > 0) await sweep(hashes);
  return removed;
}

export async function moveInlineContents(db: Database, blobs: BlobStore, batch = 20): Promise<number> {
  let moved = 0;
  for (;;) {
    // Keys only: a batch never holds more than one content in memory.
    const { rows } = await db.query<{ user_id: string; path: string }>(
      'SELECT user_id, path FROM files WHERE content IS NOT NULL ORDER BY user_id, path LIMIT $1',
      [batch],
    );
    if (rows.length === 0) return moved;
    for (const key of rows) {
      moved += await db.transaction(async (tx) => {
        const { rows: found } = await tx.query<{ sha256: string; content: unknown }>(
          'SELECT sha256, content FROM files WHERE user_id = $1 AND path = $2 AND content IS NOT NULL FOR UPDATE',
          [key.user_id, key.path],
        );
        const row = found[0];
        if (!row) return 0;
        const content = toBuffer(row.content);
        if (sha256Of(content) !== row.sha256) throw new Error('a stored file does not match its hash');
        // The referenced row cannot be collected while this file names it; the shared lock keeps
        // the collector off it even once the file is changed before this commit.
        await tx.query('SELECT 1 FROM blobs WHERE sha256 = $1 FOR KEY SHARE', [row.sha256]);
        if (!(await blobs.has(row.sha256))) await blobs.put(row.sha256, content);
        await tx.query('UPDATE files SET content = NULL WHERE user_id = $1 AND path = $2', [
          key.user_id,
          key.path,
        ]);
        return 1;
      });
    }
  }
}

/**
 * Runs the three jobs every `intervalMs` (off the request path; the timer never keeps the process
 * alive). A failing round is logged and retried at the next one.
 */
export function startBlobMaintenance(options: {
  db: Database;
  blobs: BlobStore;
  intervalMs: number;
  logger: { warn(obj: object, msg: string): void };
}): { stop(): Promise<void>; runOnce(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const runOnce = async () => {
    await moveInlineContents(options.db, options.blobs);
    await collectGarbage(options.db, options.blobs);
    await sweepOrphans(options.db, options.blobs);
  };
  const tick = () => {
    if (running || stopped) return;
    running = runOnce()
      .catch((err: unknown) =>
        options.logger.warn({ err: { message: (err as Error).message } }, 'blob store upkeep failed'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
