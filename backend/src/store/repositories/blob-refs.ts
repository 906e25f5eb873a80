import { createHash } from 'node:crypto';
import type { BlobStore } from '../../blobs/types.js';
import type { Queryable } from '../types.js';

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Makes each content durable in the blob store before the caller's transaction commits the files
 * that name it. The `blobs` row is created if needed and then held with a shared lock until the
 * transaction ends: garbage collection locks a row exclusively (skipping locked ones) before it
 * deletes, so it can never remove content this transaction is about to reference, and a row it
 * deleted meanwhile is simply created again. Contents are taken in hash order, as every writer
 * does, so two writers cannot wait for each other's rows.
 */
export async function storeContents(
  tx: Queryable,
  blobs: BlobStore,
  contents: ReadonlyMap<string, Buffer>,
): Promise<void> {
  for (const sha256 of [...contents.keys()].sort()) {
    const content = contents.get(sha256) as Buffer;
    for (let attempt = 0; ; attempt++) {
      await tx.query('INSERT INTO blobs (sha256, size) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING', [
        sha256,
        content.length,
      ]);
      const { rows } = await tx.query('SELECT 1 FROM blobs WHERE sha256 = $1 FOR KEY SHARE', [sha256]);
      if (rows.length > 0) break;
      // Collected between the two statements: create it again.
      if (attempt >= 5) throw new Error('could not register a blob: it keeps being collected');
    }
    if (!(await blobs.has(sha256))) await blobs.put(sha256, content);
  }
}
