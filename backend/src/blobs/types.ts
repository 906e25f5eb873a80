import type { Readable } from 'node:stream';

/** A byte range of a blob, both ends inclusive (as in an HTTP `Range` header). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where file contents live, addressed by their SHA-256 (lower-case hex): identical contents are
 * stored once. The store knows nothing of files or users; PostgreSQL keeps that metadata and
 * decides, under its row locks, when a blob may go (`store/blob-maintenance.ts`).
 */
export interface BlobStore {
  readonly kind: 'local' | 's3' | 'azure' | 'postgres' | 'memory';
  /** Writes the content under its hash. Idempotent; once it resolves the content is durable. */
  put(sha256: string, content: Buffer): Promise<void>;
  has(sha256: string): Promise<boolean>;
  /** The whole content, or null when there is none. */
  get(sha256: string): Promise<Buffer | null>;
  /** A stream of the content (or of `range` of it), or null when there is none. Nothing is buffered whole. */
  stream(sha256: string, range?: ByteRange): Promise<Readable | null>;
  /** Removes the content; removing an absent blob is not an error. */
  delete(sha256: string): Promise<void>;
  /** Every stored hash, in no particular order (for the orphan sweep). */
  list(): AsyncIterable<string>;
  close(): Promise<void>;
}

const sha256Pattern = /^[0-9a-f]{64}$/;

/** Keys come only from our own hashing; anything else is a bug, refused before it reaches a path or URL. */
export function checkSha256(sha256: string): string {
  if (!sha256Pattern.test(sha256)) throw new RangeError('blob key is not a SHA-256 hex digest');
  return sha256;
}

export function isSha256(value: string): boolean {
  return sha256Pattern.test(value);
}

/** Where a blob lives inside a container/bucket/directory: fanned out by the first two hex digits. */
export function blobKey(sha256: string): string {
  checkSha256(sha256);
  return `${sha256.slice(0, 2)}/${sha256}`;
}
