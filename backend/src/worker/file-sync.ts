import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { normalizeFilePath, topLevelFolders } from '../store/paths.js';
import { type FileRepository, QuotaExceededError } from '../store/types.js';

/**
 * Keeps a pod's copy of a user's sandbox directory in step with the database, which is the
 * source of truth for files (DESIGN.md §2.6). `prepare` runs before an execution and makes the
 * directory match the database; `commit` runs after it and writes back what the execution
 * created, changed or deleted. A per-user manifest of what was last in step (size, times, inode
 * and hash of each file) lets an unchanged directory be checked with `stat` calls only.
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

export interface FileSync {
  /** Makes the user's directory match the database where this pod's copy is missing or stale. */
  prepare(userId: string, options?: { signal?: AbortSignal }): Promise<FileSyncReport>;
  /**
   * Writes back new/changed files and deletes removed ones, within the user's quota, and calls
   * `onChange` for each. Throws FileSyncQuotaError (nothing written) when the result would pass
   * the quota.
   */
  commit(
    userId: string,
    options?: { signal?: AbortSignal; onChange?: (change: FileChange) => void | Promise<void> },
  ): Promise<FileChange[]>;
  /** Drops a user's manifest (e.g. after the directory was wiped); the next prepare rehashes. */
  forget(userId: string): void;
}

export class FileSyncQuotaError extends Error {
  readonly code = 'quota_exceeded';
  constructor(
    readonly neededBytes: number,
    readonly quotaBytes: number,
  ) {
    super(
      `the execution's files need ${neededBytes} bytes but the user's quota is ${quotaBytes} bytes; no file was saved`,
    );
    this.name = 'FileSyncQuotaError';
  }
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

    async commit(userId, { signal, onChange } = {}) {
      const root = userDir(userId);
      const manifest = manifestOf(userId);
      const counter = { hashed: 0 };
      const local = await scan(root, logger);
      const writes: { path: string; content: Buffer; sha256: string; stamp: string; created: boolean }[] = [];
      for (const [relative, file] of local) {
        signal?.throwIfAborted();
        const known = manifest.get(relative);
        if (known && known.stamp === file.stamp) continue;
        const content = await fs.readFile(file.absolute);
        counter.hashed++;
        const hash = sha256(content);
        if (known && known.sha256 === hash) {
          manifest.set(relative, { ...known, stamp: file.stamp });
          continue;
        }
        writes.push({ path: relative, content, sha256: hash, stamp: file.stamp, created: !known });
      }
      const deletes = [...manifest.keys()].filter((relative) => !local.has(relative));
      if (writes.length === 0 && deletes.length === 0) return [];

      // Check the quota for the whole change before touching the database, so an execution that
      // produced too much saves nothing rather than an arbitrary part of its output.
      const stored = new Map((await files.list(userId)).map((f) => [f.path, f.size]));
      let current = 0;
      for (const size of stored.values()) current += size;
      let projected = current;
      for (const relative of deletes) projected -= stored.get(relative) ?? 0;
      for (const write of writes) projected += write.content.length - (stored.get(write.path) ?? 0);
      // A user already over a (lowered) quota may still shrink; only growth past the quota fails.
      if (projected > quotaBytes && projected > current) throw new FileSyncQuotaError(projected, quotaBytes);

      const changes: FileChange[] = [];
      for (const relative of deletes) {
        signal?.throwIfAborted();
        await files.delete(userId, relative);
        manifest.delete(relative);
        changes.push({ path: relative, change: 'deleted' });
      }
      for (const write of writes) {
        signal?.throwIfAborted();
        try {
          await files.put(userId, write.path, write.content, quotaBytes);
        } catch (error) {
          if (error instanceof QuotaExceededError) throw new FileSyncQuotaError(error.usedBytes, quotaBytes);
          throw error;
        }
        manifest.set(write.path, { stamp: write.stamp, sha256: write.sha256, size: write.content.length });
        changes.push({
          path: write.path,
          change: write.created ? 'created' : 'modified',
          size: write.content.length,
        });
      }
      for (const change of changes) await onChange?.(change);
      return changes;
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
