import { Readable } from 'node:stream';
import { type BlobStore, checkSha256 } from './types.js';

/** Contents in this process's memory: for tests and an in-memory embedded database only. */
export function createMemoryBlobStore(): BlobStore {
  const blobs = new Map<string, Buffer>();
  return {
    kind: 'memory',
    async put(sha256, content) {
      blobs.set(checkSha256(sha256), Buffer.from(content));
    },
    async has(sha256) {
      return blobs.has(checkSha256(sha256));
    },
    async get(sha256) {
      return blobs.get(checkSha256(sha256)) ?? null;
    },
    async stream(sha256, range) {
      const content = blobs.get(checkSha256(sha256));
      if (!content) return null;
      return Readable.from([range ? content.subarray(range.start, range.end + 1) : content]);
    },
    async delete(sha256) {
      blobs.delete(checkSha256(sha256));
    },
    async *list() {
      yield* [...blobs.keys()];
    },
    async close() {},
  };
}
