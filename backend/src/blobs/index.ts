import path from 'node:path';
import type { Config } from '../config/index.js';
import { createAzureBlobStore } from './azure.js';
import { openLocalBlobStore } from './local.js';
import { createS3BlobStore } from './s3.js';
import type { BlobStore } from './types.js';

export { createAzureBlobStore } from './azure.js';
export { openLocalBlobStore } from './local.js';
export { createMemoryBlobStore } from './memory.js';
export { createS3BlobStore } from './s3.js';
export type { BlobStore, ByteRange } from './types.js';

/** Opens the configured blob store (BLOB_STORE): a directory under DATA_DIR unless S3 or Azure is named. */
export async function openBlobStore(config: Pick<Config, 'blobs' | 'dataDir'>): Promise<BlobStore> {
  const blobs = config.blobs;
  if (blobs.kind === 's3') return createS3BlobStore(blobs);
  if (blobs.kind === 'azure') return createAzureBlobStore(blobs);
  return openLocalBlobStore(blobs.dir ?? path.join(config.dataDir, 'blobs'));
}
