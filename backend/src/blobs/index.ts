import path from 'node:path';
import type { Config } from '../config/index.js';
import { createDatabaseBlobStore } from './database.js';
import { openLocalBlobStore } from './local.js';
import type { BlobStore } from './types.js';

// The S3 and Azure clients are imported only when configured (./s3.js, ./azure.js): their SDKs
// are most of the backend's dependencies by size and load time, and a standalone install never
// needs them.
export { createDatabaseBlobStore } from './database.js';
export { openLocalBlobStore } from './local.js';
export { createMemoryBlobStore } from './memory.js';
export type { BlobStore, ByteRange } from './types.js';

/** Opens the configured blob store (BLOB_STORE). */
export async function openBlobStore(
  config: Pick<Config, 'blobs' | 'dataDir' | 'database'>,
): Promise<BlobStore> {
  const blobs = config.blobs;
  if (blobs.kind === 'postgres') {
    if (config.database.kind !== 'postgres') throw new Error("BLOB_STORE 'postgres' needs DATABASE_URL");
    const { openDatabase } = await import('../store/database.js');
    return createDatabaseBlobStore(await openDatabase({ ...config.database, poolSize: 3 }));
  }
  if (blobs.kind === 's3') return (await import('./s3.js')).createS3BlobStore(blobs);
  if (blobs.kind === 'azure') return (await import('./azure.js')).createAzureBlobStore(blobs);
  return openLocalBlobStore(blobs.dir ?? path.join(config.dataDir, 'blobs'));
}
