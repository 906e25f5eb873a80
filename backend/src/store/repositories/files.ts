import { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '../../blobs/types.js';
import { conflictCopyPath, normalizeFilePath } from '../paths.js';
import { inTransaction, isUuid, requireUuid, toBuffer, toIso, toNumber } from '../sql.js';
import {
  type FileConflict,
  FileCountExceededError,
  type FileRepository,
  type Queryable,
  QuotaExceededError,
  type StoredFile,
} from '../types.js';
import { sha256Of, storeContents } from './blob-refs.js';

interface FileRow {
  user_id: string;
  path: string;
  size: string | number;
  sha256: string;
  updated_at: Date;
}

const fileColumns = 'user_id, path, size, sha256, updated_at';
/** First key of the per-user advisory lock taken by `put` ("ipaf"), apart from other lock users. */
const fileLockNamespace = 0x6970_6166;

function toStoredFile(row: FileRow): StoredFile {
  return {
    userId: row.user_id,
    path: row.path,
    size: toNumber(row.size),
    sha256: row.sha256,
    updatedAt: toIso(row.updated_at),
  };
}

/** The rows under a folder form the byte range [folder + '/', folder + '0'), since '0' follows '/'. */
function folderRange(folder: string): [string, string] {
  return [`${folder}/`, `${folder}0`];
}

/**
 * Takes the user's file lock for the rest of the transaction and reads the user's total and the
 * current size and hash of `paths`. Two writes of one user wait for each other, so both cannot
 * pass the quota check on the same old total; writes of different users never wait.
 */
async function lockAndMeasure(
  tx: Queryable,
  userId: string,
  paths: readonly string[],
): Promise<{ total: number; count: number; byPath: Map<string, { size: number; sha256: string }> }> {
  await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [fileLockNamespace, userId]);
  const { rows } = await tx.query<{
    used: string | number;
    count: string | number;
    current: Record<string, [string | number, string]> | null;
  }>(
    `SELECT COALESCE(sum(size), 0) AS used, count(*) AS count,
            json_object_agg(path, json_build_array(size, sha256)) FILTER (WHERE path = ANY($2::text[])) AS current
       FROM files WHERE user_id = $1`,
    [userId, paths],
  );
  const current = Object.entries(rows[0]?.current ?? {});
  return {
    total: toNumber(rows[0]?.used ?? 0),
    count: toNumber(rows[0]?.count ?? 0),
    byPath: new Map(current.map(([path, [size, sha256]]) => [path, { size: toNumber(size), sha256 }])),
  };
}

/**
 * The first of `<name> (conflict <tag>-2)`, `-3`, … that names no stored file and none this change
 * writes. Under the user's file lock, so no other change can take it meanwhile.
 */
async function freeCopyPath(
  tx: Queryable,
  userId: string,
  path: string,
  tag: string,
  written: (candidate: string) => boolean,
): Promise<string> {
  for (let first = 2; ; first += 20) {
    const candidates = Array.from({ length: 20 }, (_, i) => conflictCopyPath(path, `${tag}-${first + i}`));
    const { rows } = await tx.query<{ path: string }>(
      'SELECT path FROM files WHERE user_id = $1 AND path = ANY($2::text[])',
      [userId, candidates],
    );
    const taken = new Set(rows.map((row) => row.path));
    const free = candidates.find((candidate) => !taken.has(candidate) && !written(candidate));
    if (free) return free;
  }
}

/** The metadata row of a file whose content `storeContents` has made durable in this transaction. */
async function upsert(
  tx: Queryable,
  userId: string,
  path: string,
  bytes: Buffer,
  sha256: string,
): Promise<StoredFile> {
  const { rows } = await tx.query<FileRow>(
    `INSERT INTO files (user_id, path, size, sha256, content) VALUES ($1, $2, $3, $4, NULL)
     ON CONFLICT (user_id, path) DO UPDATE
       SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, content = NULL,
           updated_at = clock_timestamp()
     RETURNING ${fileColumns}`,
    [userId, path, bytes.length, sha256],
  );
  return toStoredFile(rows[0]!);
}

/** How often a read retries when the file was replaced (and its old content collected) under it. */
const readAttempts = 5;

/**
 * Reads a file's row and then its content: still inside the row (stored before blob storage and
 * not yet moved out) or in the blob store. Content missing from the store means the file was
 * replaced or deleted since the row was read (its old blob collected), so the row is read again.
 */
async function readFile<T>(
  db: Queryable,
  userId: string,
  path: string,
  read: (row: FileRow, inline: Buffer | null) => Promise<T | null>,
): Promise<T | null> {
  for (let attempt = 0; attempt < readAttempts; attempt++) {
    const { rows } = await db.query<FileRow & { content: unknown }>(
      `SELECT ${fileColumns}, content FROM files WHERE user_id = $1 AND path = $2`,
      [userId, path],
    );
    const row = rows[0];
    if (!row) return null;
    const result = await read(row, row.content === null ? null : toBuffer(row.content));
    if (result !== null) return result;
  }
  throw new Error('the content of a stored file could not be read: it keeps changing or is missing');
}

function checkQuotaArgument(quotaBytes: number, quotaFiles = Number.POSITIVE_INFINITY): void {
  if (!Number.isFinite(quotaBytes) || quotaBytes < 0) throw new RangeError('quotaBytes must be ≥ 0');
  if (Number.isNaN(quotaFiles) || quotaFiles < 0) throw new RangeError('quotaFiles must be ≥ 0');
}

function asBuffer(content: unknown): Buffer {
  if (!(content instanceof Uint8Array)) throw new TypeError('file content must be a Buffer');
  return Buffer.isBuffer(content) ? content : Buffer.from(content);
}

function contentsOf(writes: Iterable<Buffer>): Map<string, Buffer> {
  const contents = new Map<string, Buffer>();
  for (const bytes of writes) contents.set(sha256Of(bytes), bytes);
  return contents;
}

export function createFileRepository(db: Queryable, blobs: BlobStore): FileRepository {
  return {
    async list(userId, prefix = '') {
      const folder = prefix === '' ? '' : normalizeFilePath(prefix, { allowFolder: true });
      if (!isUuid(userId)) return [];
      const { rows } =
        folder === ''
          ? await db.query<FileRow>(`SELECT ${fileColumns} FROM files WHERE user_id = $1 ORDER BY path`, [
              userId,
            ])
          : await db.query<FileRow>(
              `SELECT ${fileColumns} FROM files WHERE user_id = $1 AND path >= $2 AND path < $3 ORDER BY path`,
              [userId, ...folderRange(folder)],
            );
      return rows.map(toStoredFile);
    },

    async get(userId, path) {
      const canonical = normalizeFilePath(path);
      if (!isUuid(userId)) return null;
      return readFile(db, userId, canonical, async (row, inline) => {
        const content = inline ?? (await blobs.get(row.sha256));
        return content ? { ...toStoredFile(row), content } : null;
      });
    },

    async open(userId, path, rangeOf) {
      const canonical = normalizeFilePath(path);
      if (!isUuid(userId)) return null;
      return readFile(db, userId, canonical, async (row, inline) => {
        const range: ByteRange | undefined = rangeOf?.(toStoredFile(row));
        if (range && (range.start < 0 || range.end < range.start || range.end >= toNumber(row.size)))
          throw new RangeError('the range lies outside the file');
        let content: Readable | null;
        if (inline) {
          content = Readable.from([range ? inline.subarray(range.start, range.end + 1) : inline]);
        } else {
          content = await blobs.stream(row.sha256, range);
        }
        return content ? { ...toStoredFile(row), content, range } : null;
      });
    },

    async put(userId, path, content, quotaBytes, quotaFiles = Number.POSITIVE_INFINITY) {
      requireUuid(userId, 'userId');
      const canonical = normalizeFilePath(path);
      checkQuotaArgument(quotaBytes, quotaFiles);
      const bytes = asBuffer(content);
      const sha256 = sha256Of(bytes);
      return inTransaction(db, async (tx) => {
        const used = await lockAndMeasure(tx, userId, [canonical]);
        const growth = bytes.length - (used.byPath.get(canonical)?.size ?? 0);
        // Checked before the content is written: a refused write stores nothing.
        if (growth > 0 && used.total + growth > quotaBytes)
          throw new QuotaExceededError(used.total, quotaBytes, growth);
        if (!used.byPath.has(canonical) && used.count + 1 > quotaFiles)
          throw new FileCountExceededError(used.count + 1, quotaFiles, used.total, quotaBytes);
        await storeContents(tx, blobs, new Map([[sha256, bytes]]));
        return upsert(tx, userId, canonical, bytes, sha256);
      });
    },

    async apply(userId, change, quotaBytes, quotaFiles = Number.POSITIVE_INFINITY) {
      requireUuid(userId, 'userId');
      checkQuotaArgument(quotaBytes, quotaFiles);
      const tag = change.conflictTag ?? 'copy';
      const writes = new Map(change.writes.map((w) => [normalizeFilePath(w.path), asBuffer(w.content)]));
      const deletes = change.deletes.map((p) => normalizeFilePath(p)).filter((p) => !writes.has(p));
      const bases = new Map([...(change.bases ?? [])].map(([p, sha]) => [normalizeFilePath(p), sha]));
      if (writes.size === 0 && deletes.length === 0) return { conflicts: [] };
      const copies = new Map([...writes.keys()].map((p) => [p, conflictCopyPath(p, tag)]));
      return inTransaction(db, async (tx) => {
        const used = await lockAndMeasure(tx, userId, [...writes.keys(), ...deletes, ...copies.values()]);
        const sha256Now = (path: string) => used.byPath.get(path)?.sha256 ?? null;
        // A path whose stored version is no longer the one the change started from was changed
        // by someone else meanwhile: theirs stays, and nothing of ours is lost either.
        const changedMeanwhile = (path: string) => bases.has(path) && bases.get(path) !== sha256Now(path);
        const conflicts: FileConflict[] = [];
        const toWrite = new Map<string, Buffer>();
        for (const [path, bytes] of writes) {
          if (!changedMeanwhile(path) || sha256Now(path) === sha256Of(bytes)) {
            toWrite.set(path, bytes);
            continue;
          }
          let copy = copies.get(path) as string;
          // A copy never replaces a file: the name may be taken (another copy with this tag).
          if (used.byPath.has(copy) || toWrite.has(copy) || writes.has(copy))
            copy = await freeCopyPath(
              tx,
              userId,
              path,
              tag,
              (candidate) => toWrite.has(candidate) || writes.has(candidate),
            );
          toWrite.set(copy, bytes);
          conflicts.push({ path, keptAs: copy });
        }
        const toDelete: string[] = [];
        for (const path of deletes) {
          if (sha256Now(path) === null) continue;
          if (changedMeanwhile(path)) conflicts.push({ path, keptAs: null });
          else toDelete.push(path);
        }

        let projected = used.total;
        for (const path of toDelete) projected -= used.byPath.get(path)?.size ?? 0;
        for (const [path, bytes] of toWrite) projected += bytes.length - (used.byPath.get(path)?.size ?? 0);
        if (projected > quotaBytes && projected > used.total)
          throw new QuotaExceededError(used.total, quotaBytes, projected - used.total);
        // Like bytes, only growth in the number of files past the quota is refused.
        let count = used.count - toDelete.length;
        for (const path of toWrite.keys()) if (!used.byPath.has(path)) count++;
        if (count > quotaFiles && count > used.count)
          throw new FileCountExceededError(count, quotaFiles, used.total, quotaBytes);
        if (toDelete.length > 0)
          await tx.query('DELETE FROM files WHERE user_id = $1 AND path = ANY($2::text[])', [
            userId,
            toDelete,
          ]);
        const contents = contentsOf(toWrite.values());
        await storeContents(tx, blobs, contents);
        for (const [path, bytes] of toWrite) await upsert(tx, userId, path, bytes, sha256Of(bytes));
        return { conflicts };
      });
    },

    async delete(userId, path) {
      const canonical = normalizeFilePath(path);
      if (!isUuid(userId)) return false;
      const { rowCount } = await db.query('DELETE FROM files WHERE user_id = $1 AND path = $2', [
        userId,
        canonical,
      ]);
      return rowCount > 0;
    },

    async usage(userId) {
      if (!isUuid(userId)) return 0;
      const { rows } = await db.query<{ used: string | number }>(
        'SELECT COALESCE(sum(size), 0) AS used FROM files WHERE user_id = $1',
        [userId],
      );
      return toNumber(rows[0]?.used ?? 0);
    },
  };
}
