import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { normalizeFilePath, topLevelFolders } from '../store/paths.js';
import type { FileChangeSet, FileRepository } from '../store/types.js';

/**
 * Keeps a pod's copy of a user's sandbox directory in step with the database, which is the
 * source of truth for files (docs/architecture.md, Overview: a worker's sandbox directory is a cache). `prepare` runs before an execution and makes the
 * directory match the database; `collect` runs after it and gathers what the execution created,
 * changed or deleted into a write-back, which the worker stores in the same transaction as the
 * execution's finished row: a worker that dies in between leaves neither, so the re-run starts
 * from the files its first attempt saw. A per-user manifest of what was last in step (size,
 * times, inode and hash of each file) lets an unchanged directory be checked with `stat` calls.
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
  /** Each change, as its `file.changed` event announces it. */
  readonly changes: readonly FileChange[];
  /** Records the changes as in step (when stored) and lets go of what was held. Idempotent. */
  close(stored: boolean): void;
}

export interface FileSync {
  /** Makes the user's directory match the database where this pod's copy is missing or stale. */
  prepare(userId: string, options?: { signal?: AbortSignal }): Promise<FileSyncReport>;
  /**
   * Gathers the new, changed and deleted files of the user's directory; nothing is stored.
   * `onClose` runs when the write-back is closed.
   */
  collect(userId: string, options?: { signal?: AbortSignal; onClose?: () => void }): Promise<FileWriteBack>;
  /** Drops a user's manifest (e.g. after the directory was wiped); the next prepare rehashes. */
  forget(userId: string): void;
}

export interface FileSyncOptions {
  files: FileRepository;
  /** The user's directory on this host, holding uploads/, workspace/, outputs/. */
  userDir: (userId: string) => string;
  quotaBytes: number;
  logger?: Logger;
  /**
   * Users whose manifests are kept in memory (least recently used dropped first). A user without
   * one costs a hash of each local file on the next sync, nothing more.
   */
  maxUsers?: number;
}

interface LocalFile {
  size: number;
  /** stat fingerprint: size, mtime, ctime and inode in nanoseconds / numbers. */
  stamp: string;
  absolute: string;
}

interface ManifestEntry {
  stamp: string;
  sha256: string;
  size: number;
}

type Manifest = Map<string, ManifestEntry>;

export function createFileSync(options: FileSyncOptions): FileSync {
  const manifests = new Map<string, Manifest>();
  const { files, userDir, quotaBytes, logger } = options;

  const maxUsers = options.maxUsers ?? 1000;

  /** The user's manifest, most recently used last; the least recently used beyond `maxUsers` go. */
  function manifestOf(userId: string): Manifest {
    const manifest = manifests.get(userId) ?? new Map();
    manifests.delete(userId);
    manifests.set(userId, manifest);
    while (manifests.size > maxUsers) {
      const oldest = manifests.keys().next().value;
      if (oldest === undefined) break;
      manifests.delete(oldest);
    }
    return manifest;
  }

  /** Hash of a local file, from the manifest when its stat is unchanged. */
  async function hashOf(
    manifest: Manifest,
    relative: string,
    file: LocalFile,
    counter: { hashed: number },
  ): Promise<string> {
    const known = manifest.get(relative);
    if (known && known.stamp === file.stamp) return known.sha256;
    counter.hashed++;
    const content = await fs.readFile(file.absolute);
    return sha256(content);
  }

  return {
    async prepare(userId, { signal } = {}) {
      const root = userDir(userId);
      const manifest = manifestOf(userId);
      const report: FileSyncReport = { restored: 0, removed: 0, hashed: 0 };
      const owner = await sandboxOwnerOf(root);
      for (const folder of topLevelFolders) await ensureRealFolder(root, path.join(root, folder), owner);
      const [stored, local] = await Promise.all([files.list(userId), scan(root, logger)]);
      const wanted = new Map(stored.map((f) => [f.path, f]));

      for (const [relative, file] of local) {
        signal?.throwIfAborted();
        if (!wanted.has(relative)) {
          await fs.rm(file.absolute, { force: true });
          manifest.delete(relative);
          report.removed++;
        }
      }
      for (const relative of [...manifest.keys()]) {
        if (!local.has(relative)) manifest.delete(relative);
      }
      for (const storedFile of stored) {
        signal?.throwIfAborted();
        const localFile = local.get(storedFile.path);
        if (localFile && localFile.size === storedFile.size) {
          const hash = await hashOf(manifest, storedFile.path, localFile, report);
          if (hash === storedFile.sha256) {
            manifest.set(storedFile.path, { stamp: localFile.stamp, sha256: hash, size: localFile.size });
            continue;
          }
        }
        const full = await files.get(userId, storedFile.path);
        // Deleted in the meantime by another replica or the API: nothing to restore.
        if (!full) continue;
        const absolute = path.join(root, ...full.path.split('/'));
        await writeAtomically(root, absolute, full.content, owner);
        const stat = await fs.lstat(absolute, { bigint: true });
        manifest.set(full.path, { stamp: stampOf(stat), sha256: full.sha256, size: full.content.length });
        report.restored++;
      }
      if (report.removed > 0) await removeEmptyFolders(root);
      return report;
    },

    async collect(userId, { signal, onClose } = {}) {
      const root = userDir(userId);
      const manifest = manifestOf(userId);
      const local = await scan(root, logger);
      const writes: (FileChangeSet['writes'][number] & { sha256: string; stamp: string })[] = [];
      const changes: FileChange[] = [];
      // What the database held for each path when the directory was last in step with it.
      const bases = new Map<string, string | null>();
      for (const [relative, file] of local) {
        signal?.throwIfAborted();
        const known = manifest.get(relative);
        if (known && known.stamp === file.stamp) continue;
        const content = await fs.readFile(file.absolute);
        const hash = sha256(content);
        if (known && known.sha256 === hash) {
          manifest.set(relative, { ...known, stamp: file.stamp });
          continue;
        }
        writes.push({ path: relative, content, sha256: hash, stamp: file.stamp });
        bases.set(relative, known?.sha256 ?? null);
        changes.push({ path: relative, change: known ? 'modified' : 'created', size: content.length });
      }
      const deletes = [...manifest.keys()].filter((relative) => !local.has(relative));
      for (const relative of deletes) {
        changes.push({ path: relative, change: 'deleted' });
        bases.set(relative, manifest.get(relative)?.sha256 ?? null);
      }

      let closed = false;
      return {
        userId,
        quotaBytes,
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
            for (const relative of deletes) manifest.delete(relative);
            for (const write of writes)
              manifest.set(write.path, {
                stamp: write.stamp,
                sha256: write.sha256,
                size: write.content.length,
              });
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

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function stampOf(stat: import('node:fs').BigIntStats): string {
  return `${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.ino}`;
}

/**
 * Regular files under the three top-level folders, by canonical relative path. Symlinks,
 * devices, FIFOs and sockets are skipped (never followed), as are names the platform's path rule
 * refuses.
 */
async function scan(root: string, logger?: Logger): Promise<Map<string, LocalFile>> {
  const found = new Map<string, LocalFile>();
  async function walk(absoluteDir: string, relativeDir: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(absoluteDir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const relative = `${relativeDir}/${entry.name}`;
      const absolute = path.join(absoluteDir, entry.name);
      if (entry.isDirectory()) {
        await walk(absolute, relative);
        continue;
      }
      if (!entry.isFile()) continue;
      let canonical: string;
      try {
        canonical = normalizeFilePath(relative);
      } catch {
        logger?.warn(
          { path: relative },
          'file sync: skipping a file whose name the platform does not accept',
        );
        continue;
      }
      const stat = await fs.lstat(absolute, { bigint: true }).catch(() => null);
      if (!stat?.isFile()) continue;
      found.set(canonical, { size: Number(stat.size), stamp: stampOf(stat), absolute });
    }
  }
  for (const folder of topLevelFolders) await walk(path.join(root, folder), folder);
  return found;
}

interface Owner {
  uid: number;
  gid: number;
}

/**
 * A worker running as root runs its sandboxes under an unprivileged uid that owns the user's
 * directory; what the sync writes there must belong to that uid too, or the sandbox cannot
 * read it. Undefined when no ownership change is needed.
 */
async function sandboxOwnerOf(root: string): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const stat = await fs.lstat(root).catch(() => null);
  if (!stat?.isDirectory() || stat.uid === 0) return undefined;
  return { uid: stat.uid, gid: stat.gid };
}

async function writeAtomically(
  root: string,
  absolute: string,
  content: Buffer,
  owner?: Owner,
): Promise<void> {
  const dir = path.dirname(absolute);
  await ensureRealFolder(root, dir, owner);
  const temporary = `${absolute}.ipa-sync-${process.pid}-${Date.now()}`;
  await fs.writeFile(temporary, content, { mode: 0o600 });
  try {
    if (owner) await fs.lchown(temporary, owner.uid, owner.gid);
    // A directory (or symlink) where a file belongs is replaced; the database wins.
    const existing = await fs.lstat(absolute).catch(() => null);
    if (existing?.isDirectory()) await fs.rm(absolute, { recursive: true, force: true });
    await fs.rename(temporary, absolute);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Creates the folders of a path one by one, replacing any symlink or file on the way so a write
 * from the database can never be redirected outside the user's directory.
 */
async function ensureRealFolder(root: string, dir: string, owner?: Owner): Promise<void> {
  const relative = path.relative(root, dir);
  if (relative.startsWith('..') || path.isAbsolute(relative))
    throw new Error(`path leaves the user directory: ${dir}`);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  let current = root;
  for (const segment of relative.split(path.sep).filter(Boolean)) {
    current = path.join(current, segment);
    const stat = await fs.lstat(current).catch(() => null);
    if (stat?.isDirectory()) continue;
    if (stat) await fs.rm(current, { force: true });
    await fs.mkdir(current, { mode: 0o700 });
    if (owner) await fs.lchown(current, owner.uid, owner.gid);
  }
}

async function removeEmptyFolders(root: string): Promise<void> {
  async function prune(dir: string, isTop: boolean): Promise<boolean> {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => null);
    if (!entries) return false;
    let empty = true;
    for (const entry of entries) {
      if (entry.isDirectory() && (await prune(path.join(dir, entry.name), false))) continue;
      empty = false;
    }
    if (empty && !isTop) {
      await fs.rmdir(dir).catch(() => undefined);
      return true;
    }
    return false;
  }
  for (const folder of topLevelFolders) await prune(path.join(root, folder), true);
}
