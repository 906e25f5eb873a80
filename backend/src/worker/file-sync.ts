import type { Logger } from '../observability/logger.js';
import type { SandboxLease, SyncLimits } from '../sandbox/index.js';
import { SandboxError } from '../sandbox/index.js';
import { maxPathDepth, maxPathLength, maxSegmentLength, normalizeFilePath } from '../store/paths.js';
import type { FileChangeSet, FileRepository, StoredFile } from '../store/types.js';

/**
 * Keeps a pod's copy of a user's sandbox directory in step with the database, which is the
 * source of truth for files. `prepare` runs before an execution and makes the directory match
 * the database; `collect` runs after it and gathers what the execution created, changed or
 * deleted into a write-back, which the worker stores in the same transaction as the execution's
 * finished row: a worker that dies in between leaves neither, so the re-run starts from the
 * files its first attempt saw. A per-user manifest of what was last in step (size, times, inode
 * and hash of each file) lets an unchanged directory be checked with one walk.
 *
 * The worker never touches the directory itself: every read, write and delete is a `sync.*`
 * call over the user's sandbox lease, answered by the runtime inside the sandbox, so every path
 * resolves in the sandbox's mount namespace, with the sandbox's uid, and no link is followed
 * (docs/security.md, "The file sync"). The walk stops at the limits (file count, folder depth,
 * path length): a tree past them is discarded whole and the execution fails `quota_exceeded`.
 */

export interface FileChange {
  path: string;
  change: 'created' | 'modified' | 'deleted';
  size?: number;
}

export interface FileSyncReport {
  /** Files written to the local directory from the database. */
  restored: number;
  /** Local files removed because the database no longer has them. */
  removed: number;
  /** Files hashed because their stat differed from the manifest. */
  hashed: number;
}

/**
 * An execution's file changes, not yet stored. Whoever stores them (`files.apply` with
 * `quotaBytes`) closes the write-back afterwards, saying whether they were stored; until it is
 * closed it holds whatever `collect` was given to hold (the user's sandbox lease), so no other
 * execution of the user sees the directory half in step.
 */
export interface FileWriteBack extends FileChangeSet {
  readonly userId: string;
  readonly quotaBytes: number;
  /** Files the user may keep; absent: no limit on the count. */
  readonly quotaFiles?: number;
  /** Each change, as its `file.changed` event announces it. */
  readonly changes: readonly FileChange[];
  /** Records the changes as in step (when stored) and lets go of what was held. Idempotent. */
  close(stored: boolean): void;
}

/** The user's directory went past a limit (files, depth, path length); nothing of it was stored. */
export class FileLimitError extends Error {
  readonly code = 'quota_exceeded';
  constructor(message: string) {
    super(message);
    this.name = 'FileLimitError';
  }
}

export interface FileSync {
  /** Makes the user's directory match the database where this pod's copy is missing or stale. */
  prepare(lease: SandboxLease, options?: { signal?: AbortSignal }): Promise<FileSyncReport>;
  /**
   * Gathers the new, changed and deleted files of the user's directory; nothing is stored.
   * `onClose` runs when the write-back is closed. A directory past the limits is discarded and
   * FileLimitError thrown.
   */
  collect(
    lease: SandboxLease,
    options?: { signal?: AbortSignal; onClose?: () => void },
  ): Promise<FileWriteBack>;
  /** Drops a user's manifest (e.g. after the directory was wiped); the next prepare rehashes. */
  forget(userId: string): void;
}

export interface FileSyncOptions {
  files: FileRepository;
  quotaBytes: number;
  /** Files a user may keep (USER_QUOTA_FILES). */
  quotaFiles: number;
  /**
   * The user's sandbox reset generation (`users.sandboxGeneration`): when it moved since this
   * pod last synced the user, the local directory is discarded before the sync.
   */
  resetGeneration?: (userId: string) => Promise<number>;
  /**
   * The reset generation and the user's files revision in one look (`users.syncState`); replaces
   * `resetGeneration`. While the revision is the one this pod last listed, the stored files are
   * not listed again: the database's trigger moves it with every change to them.
   */
  syncState?: (userId: string) => Promise<{ generation: number; filesRevision: number }>;
  logger?: Logger;
  /**
   * Users whose manifests are kept in memory (least recently used dropped first). A user without
   * one costs a hash of each local file on the next sync, nothing more.
   */
  maxUsers?: number;
}

interface LocalFile {
  size: number;
  /** stat fingerprint: size, mtime, ctime and inode. */
  stamp: string;
}

interface ManifestEntry {
  stamp: string;
  sha256: string;
  size: number;
}

interface Manifest {
  files: Map<string, ManifestEntry>;
  /** The reset generation the local directory belongs to; undefined until first seen. */
  generation?: number;
  /** The stored files as listed at a files revision (with `syncState` only). */
  listed?: { revision: number; files: readonly StoredFile[] };
}

/** Paths per `sync.hash` / `sync.delete` call: keeps each request line small. */
const batchSize = 200;

export function createFileSync(options: FileSyncOptions): FileSync {
  const manifests = new Map<string, Manifest>();
  const { files, quotaBytes, logger } = options;
  const maxUsers = options.maxUsers ?? 1000;
  const limits: SyncLimits = {
    maxFiles: options.quotaFiles,
    maxDepth: maxPathDepth,
    maxPathLength,
    maxSegmentLength,
  };

  /** The user's manifest, most recently used last; the least recently used beyond `maxUsers` go. */
  function manifestOf(userId: string): Manifest {
    const manifest = manifests.get(userId) ?? { files: new Map() };
    manifests.delete(userId);
    manifests.set(userId, manifest);
    while (manifests.size > maxUsers) {
      const oldest = manifests.keys().next().value;
      if (oldest === undefined) break;
      manifests.delete(oldest);
    }
    return manifest;
  }

  /** The regular files of the user's directory by canonical path; null past a limit. */
  async function scan(lease: SandboxLease, signal?: AbortSignal) {
    const result = await lease.syncScan(limits, { signal });
    if (result.exceeded) return { exceeded: result.exceeded.message, local: new Map<string, LocalFile>() };
    const local = new Map<string, LocalFile>();
    for (const [relative, size, stamp] of result.files) {
      if (canonical(relative) === undefined) {
        logger?.warn(
          { path: relative.slice(0, 200) },
          'file sync: skipping a file whose name the platform does not accept',
        );
        continue;
      }
      local.set(relative, { size, stamp });
    }
    return { exceeded: undefined, local };
  }

  return {
    async prepare(lease, { signal } = {}) {
      const userId = lease.userId;
      const manifest = manifestOf(userId);
      const known = manifest.files;
      const report: FileSyncReport = { restored: 0, removed: 0, hashed: 0 };
      let revision: number | undefined;
      if (options.syncState || options.resetGeneration) {
        let generation: number;
        if (options.syncState) ({ generation, filesRevision: revision } = await options.syncState(userId));
        else generation = await (options.resetGeneration as (userId: string) => Promise<number>)(userId);
        if (manifest.generation !== undefined && manifest.generation !== generation) {
          logger?.info({ userId }, 'file sync: the user reset their sandbox; discarding the local copy');
          await lease.discardFiles();
          known.clear();
        }
        manifest.generation = generation;
      }
      // The revision is read before the list, so a list is never older than the revision it is
      // kept under (a change in between only costs one more listing next time).
      const listed = manifest.listed;
      const listing =
        revision !== undefined && listed?.revision === revision
          ? Promise.resolve(listed.files)
          : files.list(userId);
      let [stored, { exceeded, local }] = await Promise.all([listing, scan(lease, signal)]);
      manifest.listed = revision === undefined ? undefined : { revision, files: stored };
      if (exceeded) {
        // Left by an earlier run (or work it left behind): the stored files are the truth.
        logger?.warn({ userId, reason: exceeded }, 'file sync: local copy past the limits; discarding it');
        await lease.discardFiles();
        known.clear();
        local = new Map();
      }
      const wanted = new Set(stored.map((f) => f.path));

      const unwanted = [...local.keys()].filter((relative) => !wanted.has(relative));
      for (let i = 0; i < unwanted.length; i += batchSize) {
        signal?.throwIfAborted();
        report.removed += await lease.syncDelete(unwanted.slice(i, i + batchSize), { signal });
      }
      for (const relative of [...known.keys()])
        if (!local.has(relative) || !wanted.has(relative)) known.delete(relative);

      // Same size and an unknown stamp: only the hash says whether the local copy is current.
      const toHash = stored.filter((f) => {
        const here = local.get(f.path);
        return here && here.size === f.size && known.get(f.path)?.stamp !== here.stamp;
      });
      for (let i = 0; i < toHash.length; i += batchSize) {
        signal?.throwIfAborted();
        const states = await lease.syncHash(
          toHash.slice(i, i + batchSize).map((f) => f.path),
          { signal },
        );
        report.hashed += states.length;
        for (const state of states)
          if (state) known.set(state.path, { stamp: state.stamp, sha256: state.sha256, size: state.size });
      }
      for (const storedFile of stored) {
        signal?.throwIfAborted();
        const here = local.get(storedFile.path);
        const entry = known.get(storedFile.path);
        if (here && entry && entry.stamp === here.stamp && entry.sha256 === storedFile.sha256) continue;
        const full = await files.get(userId, storedFile.path);
        // Deleted in the meantime by another replica or the API: nothing to restore.
        if (!full) continue;
        try {
          const stamp = await lease.syncWrite(full.path, full.content, { signal });
          known.set(full.path, { stamp, sha256: full.sha256, size: full.content.length });
          report.restored++;
        } catch (error) {
          // Larger than a sandbox may hold (SANDBOX_MAX_FILE_BYTES): the sandbox cannot have it.
          if (!(error instanceof SandboxError && error.code === 'too_large')) throw error;
          known.delete(full.path);
          logger?.warn(
            { userId, path: full.path },
            'file sync: a stored file is over the sandbox file limit',
          );
        }
      }
      return report;
    },

    async collect(lease, { signal, onClose } = {}) {
      const userId = lease.userId;
      const known = manifestOf(userId).files;
      const { exceeded, local } = await scan(lease, signal);
      if (exceeded) {
        await lease.discardFiles();
        known.clear();
        throw new FileLimitError(
          `the user's files went past a limit (${exceeded}); none of them was saved and the sandbox directory was reset to the stored files`,
        );
      }
      const writes: (FileChangeSet['writes'][number] & { sha256: string; stamp: string })[] = [];
      const changes: FileChange[] = [];
      // What the database held for each path when the directory was last in step with it.
      const bases = new Map<string, string | null>();
      for (const [relative, file] of local) {
        signal?.throwIfAborted();
        const entry = known.get(relative);
        if (entry && entry.stamp === file.stamp) continue;
        let read: Awaited<ReturnType<SandboxLease['syncRead']>>;
        try {
          read = await lease.syncRead(relative, { signal });
        } catch (error) {
          // Gone or replaced since the walk: what is there now is seen by the next sync.
          if (error instanceof SandboxError && (error.code === 'not_found' || error.code === 'invalid_path'))
            continue;
          throw error;
        }
        if (entry && entry.sha256 === read.sha256) {
          known.set(relative, { ...entry, stamp: read.stamp });
          continue;
        }
        const content = Buffer.from(read.content, 'base64');
        writes.push({ path: relative, content, sha256: read.sha256, stamp: read.stamp });
        bases.set(relative, entry?.sha256 ?? null);
        changes.push({ path: relative, change: entry ? 'modified' : 'created', size: content.length });
      }
      const deletes = [...known.keys()].filter((relative) => !local.has(relative));
      for (const relative of deletes) {
        changes.push({ path: relative, change: 'deleted' });
        bases.set(relative, known.get(relative)?.sha256 ?? null);
      }

      let closed = false;
      return {
        userId,
        quotaBytes,
        quotaFiles: options.quotaFiles,
        writes,
        deletes,
        bases,
        changes,
        close(stored) {
          if (closed) return;
          closed = true;
          if (stored) {
            // Only now is the directory in step: a write-back dropped (quota, a lost race, a crash)
            // leaves the manifest as it was, and the next prepare restores the database's files.
            for (const relative of deletes) known.delete(relative);
            for (const write of writes)
              known.set(write.path, { stamp: write.stamp, sha256: write.sha256, size: write.content.length });
          }
          onClose?.();
        },
      };
    },

    forget(userId) {
      manifests.delete(userId);
    },
  };
}

/** The platform's canonical form of a path found in the directory; undefined when refused. */
function canonical(relative: string): string | undefined {
  try {
    const normal = normalizeFilePath(relative);
    return normal === relative ? normal : undefined;
  } catch {
    return undefined;
  }
}
