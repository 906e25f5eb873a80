import type { Readable } from 'node:stream';
import { BlobServiceClient, RestError, StorageSharedKeyCredential } from '@azure/storage-blob';
import { type BlobStore, blobKey, isSha256 } from './types.js';

export interface AzureBlobStoreOptions {
  /** An account connection string (Azurite: `UseDevelopmentStorage=true` or its full form). */
  connectionString?: string;
  /** Or an account URL with a shared key. */
  accountUrl?: string;
  accountName?: string;
  accountKey?: string;
  container: string;
  /** Blob name prefix inside the container, e.g. `ipa/`. */
  prefix: string;
}

function notFound(err: unknown): boolean {
  return err instanceof RestError && err.statusCode === 404;
}

function serviceClient(options: AzureBlobStoreOptions): BlobServiceClient {
  if (options.connectionString) return BlobServiceClient.fromConnectionString(options.connectionString);
  if (options.accountUrl && options.accountName && options.accountKey) {
    return new BlobServiceClient(
      options.accountUrl,
      new StorageSharedKeyCredential(options.accountName, options.accountKey),
    );
  }
  throw new Error('Azure Blob storage needs a connection string or an account URL, name and key');
}

/** Contents as block blobs of one Azure Blob Storage container. */
export function createAzureBlobStore(options: AzureBlobStoreOptions): BlobStore {
  const container = serviceClient(options).getContainerClient(options.container);
  const blobOf = (sha256: string) => container.getBlockBlobClient(`${options.prefix}${blobKey(sha256)}`);

  const open = async (sha256: string, range?: { start: number; end: number }) => {
    try {
      const response = range
        ? await blobOf(sha256).download(range.start, range.end - range.start + 1)
        : await blobOf(sha256).download();
      return (response.readableStreamBody as Readable | undefined) ?? null;
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  };

  return {
    kind: 'azure',
    async put(sha256, content) {
      await blobOf(sha256).uploadData(content, {
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
    },
    async has(sha256) {
      return blobOf(sha256).exists();
    },
    async get(sha256) {
      const body = await open(sha256);
      if (!body) return null;
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    stream: open,
    async delete(sha256) {
      await blobOf(sha256).deleteIfExists();
    },
    async *list() {
      for await (const blob of container.listBlobsFlat({ prefix: options.prefix })) {
        const name = blob.name.slice(options.prefix.length).split('/')[1];
        if (name && isSha256(name)) yield name;
      }
    },
    async close() {},
  };
}
