import { Readable } from 'node:stream';
import { toBuffer } from '../store/sql.js';
import type { Database } from '../store/types.js';
import { type BlobStore, checkSha256 } from './types.js';

/**
 * Contents in a PostgreSQL table (`blob_contents`), deduplicated by hash: the default of API and
 * worker processes until S3 or Azure is configured, since every replica reaches the database.
 * Give it its own small pool: writers call it while holding a connection of the main one.
 * Reads are whole (bytea cannot be streamed); use S3 or Azure for large files.
 */
export function createDatabaseBlobStore(db: Database): BlobStore {
  return {
    kind: 'postgres',
    async put(sha256, content) {
      await db.query('INSERT INTO blob_contents (sha256, content) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        checkSha256(sha256),
        content,
      ]);
    },
    async has(sha256) {
      const { rows } = await db.query('SELECT 1 FROM blob_contents WHERE sha256 = $1', [checkSha256(sha256)]);
      return rows.length > 0;
    },
    async get(sha256) {
      const { rows } = await db.query<{ content: unknown }>(
        'SELECT content FROM blob_contents WHERE sha256 = $1',
        [checkSha256(sha256)],
      );
      return rows[0] ? toBuffer(rows[0].content) : null;
    },
    async stream(sha256, range) {
      const content = await this.get(sha256);
      if (!content) return null;
      return Readable.from([range ? content.subarray(range.start, range.end + 1) : content]);
    },
    async delete(sha256) {
      await db.query('DELETE FROM blob_contents WHERE sha256 = $1', [checkSha256(sha256)]);
    },
    async *list() {
      let after = '';
      for (;;) {
        const { rows } = await db.query<{ sha256: string }>(
          'SELECT sha256 FROM blob_contents WHERE sha256 > $1 ORDER BY sha256 LIMIT 1000',
          [after],
        );
        for (const row of rows) yield row.sha256;
        if (rows.length < 1000) return;
        after = rows[rows.length - 1]!.sha256;
      }
    },
    close: () => db.close(),
  };
}
