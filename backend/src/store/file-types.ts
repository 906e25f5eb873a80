/** The file repository's contract and its quota errors (re-exported by `types.ts`). */
import type { Readable } from 'node:stream';
import type { ByteRange } from '../blobs/types.js';
import type { StoredFile } from './types.js';

export interface FileChangeSet {
  writes: readonly { path: string; content: Buffer }[];
  deletes: readonly string[];
  /**
   * The SHA-256 each path had when the change was made (null: it did not exist). A path stored
   * differently now was changed by someone else in the meantime: their version stays, a write of
   * ours is kept beside it (`conflictCopyPath`, tagged `conflictTag`) and a delete of ours is
   * dropped. Paths without a base are written and deleted as given.
   */
  bases?: ReadonlyMap<string, string | null>;
  conflictTag?: string;
}

/** A path of a change that met a concurrent change; `keptAs` is where our write went (null: a delete, dropped). */
export interface FileConflict {
  path: string;
  keptAs: string | null;
}

export interface FileRepository {
  /** Files under a directory prefix ('' = all), sorted by path. */
  list(userId: string, prefix?: string): Promise<StoredFile[]>;
  get(userId: string, path: string): Promise<(StoredFile & { content: Buffer }) | null>;
  /**
   * A file's metadata and a stream of its content, without reading it whole; null when there is no
   * such file. `rangeOf` (given the file) may pick a range within it to stream instead, or throw.
   */
  open(
    userId: string,
    path: string,
    rangeOf?: (file: StoredFile) => ByteRange | undefined,
  ): Promise<(StoredFile & { content: Readable; range?: ByteRange }) | null>;
  /**
   * Creates or replaces a file. Rejects with QuotaExceededError when the user's total would pass
   * `quotaBytes`; nothing is written then.
   */
  put(
    userId: string,
    path: string,
    content: Buffer,
    quotaBytes: number,
    quotaFiles?: number,
  ): Promise<StoredFile>;
  /**
   * Writes and deletes several files as one change: all of it or, on QuotaExceededError, none.
   * Only growth past `quotaBytes` is refused, so a user over a lowered quota may still shrink.
   * Returns the paths that met a concurrent change (see `FileChangeSet.bases`).
   */
  apply(
    userId: string,
    change: FileChangeSet,
    quotaBytes: number,
    quotaFiles?: number,
  ): Promise<{ conflicts: FileConflict[] }>;
  delete(userId: string, path: string): Promise<boolean>;
  /** Bytes used by a user. */
  usage(userId: string): Promise<number>;
}

export class QuotaExceededError extends Error {
  /**
   * `usedBytes`: the user's usage before the refused write; `requestedBytes` (when known): how much
   * the write would have added.
   */
  constructor(
    readonly usedBytes: number,
    readonly quotaBytes: number,
    readonly requestedBytes?: number,
  ) {
    super(
      requestedBytes === undefined
        ? `quota exceeded: ${usedBytes} of ${quotaBytes} bytes`
        : `quota exceeded: ${usedBytes} of ${quotaBytes} bytes used, ${requestedBytes} more requested`,
    );
    this.name = 'QuotaExceededError';
  }
}

/** A write that would leave the user more files than `quotaFiles` (USER_QUOTA_FILES). */
export class FileCountExceededError extends QuotaExceededError {
  constructor(
    readonly usedFiles: number,
    readonly quotaFiles: number,
    usedBytes: number,
    quotaBytes: number,
  ) {
    super(usedBytes, quotaBytes);
    this.message = `file quota exceeded: ${usedFiles} files would pass the limit of ${quotaFiles}`;
    this.name = 'FileCountExceededError';
  }
}
