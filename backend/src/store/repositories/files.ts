import { createHash } from 'node:crypto';
import { normalizeFilePath } from '../paths.js';
import { isUuid, requireUuid, toBuffer, toIso, toNumber } from '../sql.js';
import { type Database, type FileRepository, QuotaExceededError, type StoredFile } from '../types.js';

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

export function createFileRepository(db: Database): FileRepository {
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
      const { rows } = await db.query<FileRow & { content: unknown }>(
        `SELECT ${fileColumns}, content FROM files WHERE user_id = $1 AND path = $2`,
        [userId, canonical],
      );
      const row = rows[0];
      return row ? { ...toStoredFile(row), content: toBuffer(row.content) } : null;
    },

    async put(userId, path, content, quotaBytes) {
      requireUuid(userId, 'userId');
      const canonical = normalizeFilePath(path);
      if (!(content instanceof Uint8Array)) throw new TypeError('file content must be a Buffer');
      if (!Number.isFinite(quotaBytes) || quotaBytes < 0) throw new RangeError('quotaBytes must be ≥ 0');
      const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      return db.transaction(async (tx) => {
        // Two writes of one user wait for each other, so both cannot pass the quota check on the
        // same old total; writes of different users never wait.
        await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [
          fileLockNamespace,
          userId,
        ]);
        const { rows: totals } = await tx.query<{ used: string | number; replaced: string | number }>(
          `SELECT COALESCE(sum(size), 0) AS used, COALESCE(sum(size) FILTER (WHERE path = $2), 0) AS replaced
             FROM files WHERE user_id = $1`,
          [userId, canonical],
        );
        const used = toNumber(totals[0]?.used ?? 0);
        const replaced = toNumber(totals[0]?.replaced ?? 0);
        const growth = bytes.length - replaced;
        if (growth > 0 && used + growth > quotaBytes) throw new QuotaExceededError(used, quotaBytes, growth);
        const { rows } = await tx.query<FileRow>(
          `INSERT INTO files (user_id, path, size, sha256, content) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (user_id, path) DO UPDATE
             SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, content = EXCLUDED.content,
                 updated_at = clock_timestamp()
           RETURNING ${fileColumns}`,
          [userId, canonical, bytes.length, sha256, bytes],
        );
        return toStoredFile(rows[0]!);
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
