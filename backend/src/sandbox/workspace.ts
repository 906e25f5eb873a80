/**
 * Per-user sandbox directories on the host: `<root>/<user-id>/{uploads,workspace,outputs}`, and
 * the snapshots the worker diffs around a call to find the files a run changed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { findExecutable } from './isolation.js';
import { SandboxError } from './types.js';

export const userFolders = ['uploads', 'workspace', 'outputs'] as const;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** User ids name directories, so only UUIDs are accepted (no separators, no dots). */
export function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || !uuidPattern.test(userId)) {
    throw new SandboxError(
      'invalid_request',
      `invalid user id ${JSON.stringify(String(userId).slice(0, 80))}: expected a UUID`,
    );
  }
}

export function userDirectory(root: string, userId: string): string {
  assertUserId(userId);
  return path.join(root, userId.toLowerCase());
}

/** Who owns the files inside a sandbox: set when the worker runs as root and drops privileges. */
export interface SandboxOwner {
  uid: number;
  gid: number;
}

/**
 * Creates the user's directory tree with mode 0700. When the sandbox runs under another uid than
 * the worker (worker started as root), the tree is handed to that uid — including files the
 * worker wrote since — so user code can change them; the root stays traversable but not listable.
 */
export async function ensureUserDirectory(
  root: string,
  userId: string,
  owner?: SandboxOwner,
): Promise<string> {
  const dir = userDirectory(root, userId);
  await fs.mkdir(root, { recursive: true, mode: owner ? 0o711 : 0o700 });
  if (owner) await fs.chmod(root, 0o711);
  await fs.mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory())
    throw new SandboxError('internal', `the user's sandbox directory ${dir} is not a directory`);
  for (const folder of userFolders) {
    // mkdir does not follow a symlink user code left in a folder's place (EEXIST): the sandbox
    // sees the link, the file sync refuses it.
    await fs.mkdir(path.join(dir, folder), { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  if (owner) await adoptTree(dir, owner);
  return dir;
}

/** The uid that owns the user's directory now, if it exists. */
export async function directoryOwnerUid(root: string, userId: string): Promise<number | undefined> {
  const stat = await fs.lstat(userDirectory(root, userId)).catch(() => undefined);
  return stat?.isDirectory() ? stat.uid : undefined;
}

/**
 * Hands the tree to `owner` without following a single link: `chown -R -P -h` walks with
 * openat(O_NOFOLLOW|O_DIRECTORY) relative to the directory it holds open, so a folder swapped for a
 * symlink mid-walk is changed as the link itself, never through it (a JavaScript walk by path —
 * lstat, then readdir — would follow the swap as root).
 * Run at every sandbox start: files the worker wrote since belong to it until then.
 */
async function adoptTree(dir: string, owner: SandboxOwner): Promise<void> {
  const chown = findExecutable('chown') ?? '/bin/chown';
  await new Promise<void>((resolve, reject) => {
    const child = spawn(chown, ['-R', '-P', '-h', `${owner.uid}:${owner.gid}`, '--', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: '/usr/bin:/bin', LANG: 'C' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.on('error', (error) => reject(new SandboxError('internal', `chown failed: ${error.message}`)));
    child.on('close', (code) => {
      // Entries that vanish during the walk (user code still deleting) are no failure.
      if (code === 0 || /No such file or directory/.test(stderr)) resolve();
      else reject(new SandboxError('internal', `chown of the user's directory failed: ${stderr.trim()}`));
    });
  });
}

export interface FileFingerprint {
  size: number;
  sha256: string;
  mtimeMs: number;
}

/** Relative path (`uploads/a.csv`) → fingerprint of every regular file under the user's directory. */
export type FileSnapshot = Map<string, FileFingerprint>;

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fingerprints the user's regular files; symlinks, devices, FIFOs and sockets are skipped (they
 * are never synced). Pass the previous snapshot to skip hashing files whose size and mtime did
 * not change.
 */
export async function snapshotUserFiles(
  root: string,
  userId: string,
  previous?: FileSnapshot,
): Promise<FileSnapshot> {
  const dir = userDirectory(root, userId);
  const snapshot: FileSnapshot = new Map();
  const stack: Array<[string, string]> = [[dir, '']];
  while (stack.length > 0) {
    const [abs, rel] = stack.pop() as [string, string];
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(abs, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) stack.push([childAbs, childRel]);
      else if (entry.isFile()) {
        const stat = await fs.lstat(childAbs).catch(() => undefined);
        if (!stat?.isFile()) continue;
        const before = previous?.get(childRel);
        const sha256 =
          before && before.size === stat.size && before.mtimeMs === stat.mtimeMs
            ? before.sha256
            : await hashFile(childAbs).catch(() => undefined);
        if (sha256 === undefined) continue;
        snapshot.set(childRel, { size: stat.size, sha256, mtimeMs: stat.mtimeMs });
      }
    }
  }
  return snapshot;
}

export interface SnapshotDiff {
  created: string[];
  modified: string[];
  deleted: string[];
}

/** What changed between two snapshots, each list sorted. */
export function diffSnapshots(before: FileSnapshot, after: FileSnapshot): SnapshotDiff {
  const created: string[] = [];
  const modified: string[] = [];
  const deleted: string[] = [];
  for (const [file, now] of after) {
    const then = before.get(file);
    if (!then) created.push(file);
    else if (then.sha256 !== now.sha256 || then.size !== now.size) modified.push(file);
  }
  for (const file of before.keys()) if (!after.has(file)) deleted.push(file);
  return { created: created.sort(), modified: modified.sort(), deleted: deleted.sort() };
}

/** Bytes held by the user's regular files (what counts against the quota). */
export async function userUsageBytes(root: string, userId: string): Promise<number> {
  return directoryUsageBytes(userDirectory(root, userId));
}

export async function directoryUsageBytes(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    const entries = await fs.readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const child = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(child);
      else if (entry.isFile()) total += (await fs.lstat(child).catch(() => undefined))?.size ?? 0;
    }
  }
  return total;
}
