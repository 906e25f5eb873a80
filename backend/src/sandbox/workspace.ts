/**
 * Per-user sandbox directories on the host: `<root>/<user-id>/{uploads,workspace,outputs}`.
 * What is inside a user's directory belongs to the sandbox: the worker reads and writes it only
 * through the sandbox (`worker/file-sync.ts`, the runtime's `sync.*` methods).
 */
import { randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { processEnvironment } from '../config/index.js';
import { isUuid, userFolders } from '../lib/vocabulary.js';
import { findExecutable } from './isolation.js';
import { runTool } from './tool.js';
import { SandboxError } from './types.js';

export { userFolders };

/** User ids name directories, so only UUIDs are accepted (no separators, no dots). */
export function isUserId(name: string): boolean {
  return isUuid(name);
}

export function assertUserId(userId: unknown): asserts userId is string {
  if (!isUuid(userId)) {
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
  return prepareDirectory(root, userDirectory(root, userId), owner);
}

/** `ensureUserDirectory` for any directory right below `root` (a spare sandbox's own one too). */
export async function prepareDirectory(root: string, dir: string, owner?: SandboxOwner): Promise<string> {
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
 * Hands the tree to `owner` without following a single link. Every directory is opened with
 * O_NOFOLLOW and each of its entries is reached through that open descriptor
 * (`/proc/self/fd/<fd>/<name>`: the openat of a runtime that has none), so a folder swapped for a
 * symlink mid-walk fails to open as a directory and is changed as the link itself, never through
 * it; a JavaScript walk by path (lstat, then readdir) would follow the swap as root.
 * In process, not `chown -R -P -h` (the same guarantees): a fork and exec costs 5–10 ms, most of
 * the budget of a crash replacement, which hands the user's tree to a warm spare's uid.
 * A tree past the walk's budget — deeper than `maxOpenDepth` (a descriptor per level) or with more
 * than `maxEntries` entries (work on the worker's event loop) — goes to the tool, from the top,
 * in a child process with a time limit.
 * Run at every sandbox start: files the worker wrote since belong to it until then.
 */
export async function adoptTree(
  dir: string,
  owner: SandboxOwner,
  options: { maxOpenDepth?: number; maxEntries?: number } = {},
): Promise<void> {
  let top: number;
  try {
    top = fsSync.openSync(dir, directoryFlags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw adoptFailure(error);
  }
  const walk: Walk = {
    owner,
    entries: 0,
    maxOpenDepth: options.maxOpenDepth ?? 64,
    maxEntries: options.maxEntries ?? 20_000,
  };
  try {
    await adoptDirectory(top, 0, walk);
  } catch (error) {
    if (!(error instanceof WalkNeedsTheTool)) throw adoptFailure(error);
    await adoptTreeWithTool(dir, owner);
  } finally {
    fsSync.closeSync(top);
  }
}

interface Walk {
  owner: SandboxOwner;
  entries: number;
  maxOpenDepth: number;
  maxEntries: number;
}

const directoryFlags = fsSync.constants.O_RDONLY | fsSync.constants.O_DIRECTORY | fsSync.constants.O_NOFOLLOW;
/** Entries changed between two turns of the event loop (each change is a few microseconds). */
const entriesPerTurn = 256;

/** The in-process walk cannot finish the tree (its budget, a batch cut short): the tool walks it. */
class WalkNeedsTheTool extends Error {}

function adoptFailure(error: unknown): SandboxError {
  const { code, syscall } = error as NodeJS.ErrnoException;
  const what = code ? `${syscall ?? 'walk'} ${code}` : (error as Error).message;
  return new SandboxError('internal', `handing the user's directory to its sandbox failed (${what})`);
}

async function adoptDirectory(fd: number, depth: number, walk: Walk): Promise<void> {
  const { uid, gid } = walk.owner;
  fsSync.fchownSync(fd, uid, gid);
  const here = Buffer.from(`/proc/self/fd/${fd}/`);
  for (const name of entryNames(here)) {
    if (++walk.entries > walk.maxEntries) throw new WalkNeedsTheTool();
    if (walk.entries % entriesPerTurn === 0) await new Promise((resolve) => setImmediate(resolve));
    const at = Buffer.concat([here, name]);
    let child: number;
    try {
      child = fsSync.openSync(at, directoryFlags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // Not a directory (a file, a link, a pipe, a device): changed as the entry itself.
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw error;
      lchownUnlessVanished(at, uid, gid);
      continue;
    }
    try {
      if (depth + 1 > walk.maxOpenDepth) throw new WalkNeedsTheTool();
      await adoptDirectory(child, depth + 1, walk);
    } finally {
      fsSync.closeSync(child);
    }
  }
}

/**
 * A directory's entry names as bytes (a name that is not UTF-8 does not survive a string), read a
 * batch at a time, so the walk's entry budget bounds the work before a huge folder is read whole.
 * Their file types are not used: whether an entry is a directory is what opening it as one says.
 */
function* entryNames(dir: Buffer): Generator<Buffer> {
  // `encoding: 'buffer'` gives Buffer names (Node's types know only string encodings here).
  const reader = fsSync.opendirSync(dir, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 });
  try {
    for (;;) {
      let entry: fsSync.Dirent | null;
      try {
        entry = reader.readSync();
      } catch (error) {
        // Where the file system gives no file types, Node lstats each entry of a batch; one
        // deleted since the batch was read ends the batch there, and the entries after it would
        // be skipped: the tool walks the tree instead.
        if ((error as NodeJS.ErrnoException).syscall === 'lstat') throw new WalkNeedsTheTool();
        throw error;
      }
      if (entry === null) return;
      yield entry.name as unknown as Buffer;
    }
  } finally {
    reader.closeSync();
  }
}

function lchownUnlessVanished(at: Buffer, uid: number, gid: number): void {
  try {
    fsSync.lchownSync(at, uid, gid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** `chown -R -P -h`: walks with openat(O_NOFOLLOW|O_DIRECTORY) at any depth. */
async function adoptTreeWithTool(dir: string, owner: SandboxOwner): Promise<void> {
  const chown = findExecutable('chown') ?? '/bin/chown';
  let complaints = 0;
  let otherComplaint = false;
  const exit = await runTool([chown, '-R', '-P', '-h', `${owner.uid}:${owner.gid}`, '--', dir], {
    env: toolEnvironment(),
    timeoutMs: toolTimeoutMs,
    onStderrLine: (line) => {
      complaints++;
      if (!entryChangedMidWalk(line)) otherComplaint = true;
    },
  }).catch(() => undefined);
  // Exit code 1 with complaints only about entries that changed under the walk is a walk that ran
  // to its end, as the in-process one does; a time limit's kill (null) is not.
  if (exit === 0 || (exit === 1 && complaints > 0 && !otherComplaint)) return;
  throw new SandboxError('internal', "handing the user's directory to its sandbox failed (chown)");
}

/**
 * True for a complaint of `chown -R` about one entry that changed under it — deleted (ENOENT), or
 * a folder swapped for a file or link (ENOTDIR, ELOOP: not followed) — the outcomes the in-process
 * walk skips. Any other line fails the hand-over: a refused change, or the walk itself giving up
 * ("fts_read failed"), which leaves the rest of the tree unchanged.
 */
export function entryChangedMidWalk(line: string): boolean {
  return /^(?:\S*\/)?chown: (?:cannot access|changing ownership of|cannot read directory) .*: (?:No such file or directory|Not a directory|Too many levels of symbolic links)$/.test(
    line,
  );
}

/**
 * Removes a user's whole local directory, at any depth, without following a link in it: the
 * directory is first renamed aside (rename acts on the entry itself, and `<root>` belongs to the
 * worker, so nothing in it can be swapped), then GNU `rm -rf --one-file-system` — which never
 * follows symlinks and handles any depth — empties it as the directory's owner, so the removal
 * has no more privilege than the sandbox itself. The caller stops the user's sandbox first.
 */
export async function discardUserDirectory(root: string, userId: string): Promise<void> {
  assertUserId(userId);
  await discardEntry(root, userId.toLowerCase());
}

/** `discardUserDirectory` for any entry right below `root` (a spare sandbox's directory too). */
export async function discardEntry(root: string, name: string): Promise<void> {
  const dir = path.join(root, name);
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat) return;
  const aside = path.join(root, `.discarded-${name}-${randomBytes(6).toString('hex')}`);
  await fs.rename(dir, aside);
  if (!stat.isDirectory()) {
    await fs.rm(aside, { force: true });
    return;
  }
  const asOwner =
    process.getuid?.() === 0 && stat.uid !== 0
      ? ['setpriv', `--reuid=${stat.uid}`, `--regid=${stat.gid}`, '--clear-groups', '--']
      : [];
  // A folder its owner made unreadable (chmod 000) would stop rm: the owner may open it again.
  // chmod -R never follows symlinks met during the walk.
  await runTool([...asOwner, 'chmod', '-R', 'u+rwx', '--', aside], {
    env: toolEnvironment(),
    timeoutMs: toolTimeoutMs,
  }).catch(() => undefined);
  // rm cannot remove `aside` itself as the owner (the parent is the worker's); its content it can.
  await runTool([...asOwner, 'rm', '-rf', '--one-file-system', '--', aside], {
    env: toolEnvironment(),
    timeoutMs: toolTimeoutMs,
  }).catch(() => undefined);
  await fs.rmdir(aside).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT')
      throw new SandboxError(
        'internal',
        `a discarded sandbox directory could not be removed (${error.code})`,
      );
  });
}

/** What a tool run on a user's directory gets: the worker's PATH and the C locale (its messages). */
function toolEnvironment(): NodeJS.ProcessEnv {
  return { PATH: processEnvironment().PATH ?? '/usr/bin:/bin', LANG: 'C' };
}

/** A tool on a user's directory gets two minutes. */
const toolTimeoutMs = 120_000;
