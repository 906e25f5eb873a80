/**
 * The `sync.*` methods: the worker's file sync, done here, inside the sandbox. Every path
 * resolves in the sandbox's mount namespace and with the sandbox's uid, so whatever a script
 * swaps into its directory (a symlink where a folder was), the sync can reach no more than the
 * script itself could. On top of that nothing here follows a link: entries are lstat-ed, files
 * opened with O_NOFOLLOW and checked against what was lstat-ed, a symlink or file where a folder
 * belongs is replaced, and files are written through a temporary file renamed into place.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { RpcMethods, SyncFileState, SyncLimitExceeded, SyncLimits } from '../protocol.js';
import { RuntimeFailure, splitPath, topLevelFolders } from './paths.mjs';

type Params<M extends keyof RpcMethods> = RpcMethods[M]['params'];
type Result<M extends keyof RpcMethods> = RpcMethods[M]['result'];
export type SyncBatch = (files: Array<[string, number, string]>) => void;

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** Entries per `sync.files` event: keeps each line far below the protocol's cap. */
const batchEntries = 200;
const controlOrBackslash = /[\u0000-\u001f\u007f\\]/;

/** size, mtime, ctime and inode: any write or replacement changes at least one. */
function stampOf(stat: fs.BigIntStats): string {
  return `${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.ino}`;
}

function lstatOrNull(p: string): fs.BigIntStats | null {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

export class SyncTools {
  constructor(
    private readonly rootReal: string,
    private readonly maxFileBytes: number,
  ) {}

  /** Walks the three folders; stops at the first limit, so its work is bounded whatever the tree. */
  scan(params: Params<'sync.scan'>, emit: SyncBatch): Result<'sync.scan'> {
    const limits = checkLimits(params?.limits);
    let count = 0;
    let batch: Array<[string, number, string]> = [];
    const exceeded = (limit: SyncLimitExceeded['limit'], message: string): Result<'sync.scan'> => ({
      files: count,
      exceeded: { limit, message },
    });
    const stack: string[] = [];
    for (const top of [...topLevelFolders].reverse()) {
      if (lstatOrNull(`${this.rootReal}/${top}`)?.isDirectory()) stack.push(top);
    }
    while (stack.length > 0) {
      const rel = stack.pop() as string;
      let names: string[];
      try {
        names = fs.readdirSync(`${this.rootReal}/${rel}`).sort();
      } catch {
        continue; // replaced or removed meanwhile
      }
      const depth = rel.split('/').length + 1;
      for (const name of names) {
        const childRel = `${rel}/${name}`;
        if (childRel.length > limits.maxPathLength || name.length > limits.maxSegmentLength)
          return exceeded(
            'path',
            `a path is longer than ${limits.maxPathLength} characters (or a name longer than ${limits.maxSegmentLength})`,
          );
        const stat = lstatOrNull(`${this.rootReal}/${childRel}`);
        if (!stat) continue;
        if (stat.isDirectory()) {
          if (depth >= limits.maxDepth)
            return exceeded('depth', `folders are nested more than ${limits.maxDepth} levels deep`);
          stack.push(childRel);
          continue;
        }
        // Symlinks, devices, FIFOs and sockets are never synced; nor are names no path may have.
        if (!stat.isFile() || controlOrBackslash.test(name)) continue;
        count++;
        if (count > limits.maxFiles) return exceeded('files', `there are more than ${limits.maxFiles} files`);
        batch.push([childRel, Number(stat.size), stampOf(stat)]);
        if (batch.length >= batchEntries) {
          emit(batch);
          batch = [];
        }
      }
    }
    if (batch.length > 0) emit(batch);
    return { files: count };
  }

  hash(params: Params<'sync.hash'>): Result<'sync.hash'> {
    if (!Array.isArray(params?.paths)) throw new RuntimeFailure('invalid_request', 'paths must be a list');
    return {
      files: params.paths.map((p) => {
        try {
          const { state } = this.readFile(p);
          return state;
        } catch (error) {
          if (error instanceof RuntimeFailure && error.kind !== 'invalid_path') return null;
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return null;
          throw error;
        }
      }),
    };
  }

  read(params: Params<'sync.read'>): Result<'sync.read'> {
    const { state, content } = this.readFile(params?.path);
    return { ...state, content: content.toString('base64') };
  }

  write(params: Params<'sync.write'>): Result<'sync.write'> {
    if (typeof params?.content !== 'string')
      throw new RuntimeFailure('invalid_request', 'content must be a string');
    const segments = fileSegments(params.path);
    const data = Buffer.from(params.content, 'base64');
    const name = segments.at(-1) as string;
    const written = this.pinned(segments.slice(0, -1), true, () => {
      if (lstatOrNull(name)?.isDirectory()) fs.rmSync(name, { recursive: true, force: true });
      const temporary = `.ipa-sync-${randomBytes(6).toString('hex')}`;
      const fd = fs.openSync(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      let written: fs.BigIntStats;
      try {
        fs.writeFileSync(fd, data);
        written = fs.fstatSync(fd, { bigint: true });
      } catch (error) {
        fs.closeSync(fd);
        fs.rmSync(temporary, { force: true });
        throw error;
      }
      fs.closeSync(fd);
      try {
        // rename replaces a file or symlink at the target itself; it never writes through one.
        fs.renameSync(temporary, name);
      } catch (error) {
        fs.rmSync(temporary, { force: true });
        throw error;
      }
      const now = lstatOrNull(name);
      // Swapped again meanwhile: an empty stamp makes the next sync look at the file afresh.
      return { stamp: now && now.ino === written.ino ? stampOf(now) : '' };
    });
    if (!written) throw new RuntimeFailure('not_found', 'a folder was replaced while the files were synced');
    return written;
  }

  delete(params: Params<'sync.delete'>): Result<'sync.delete'> {
    if (!Array.isArray(params?.paths)) throw new RuntimeFailure('invalid_request', 'paths must be a list');
    let removed = 0;
    for (const p of params.paths) {
      const segments = fileSegments(p);
      const gone = this.pinned(segments.slice(0, -1), false, () => {
        const name = segments.at(-1) as string;
        const stat = lstatOrNull(name);
        if (!stat || stat.isDirectory()) return false;
        // unlink removes the entry itself: a symlink's target is never touched.
        fs.unlinkSync(name);
        return true;
      });
      if (gone !== true) continue;
      removed++;
      // The folders the file leaves empty go too (rmdir never follows a link: ENOTDIR).
      for (let depth = segments.length - 1; depth > 1; depth--) {
        const emptied = this.pinned(segments.slice(0, depth - 1), false, () => {
          try {
            fs.rmdirSync(segments[depth - 1] as string);
            return true;
          } catch {
            return false;
          }
        });
        if (emptied !== true) break;
      }
    }
    return { removed };
  }

  /** Opens a regular file without following any link in its path, and reads it whole. */
  private readFile(input: unknown): { state: SyncFileState; content: Buffer } {
    const segments = fileSegments(input);
    const rel = segments.join('/');
    const name = segments.at(-1) as string;
    const read = this.pinned(segments.slice(0, -1), false, () => {
      const before = lstatOrNull(name);
      if (!before?.isFile()) return undefined;
      // O_NONBLOCK: a FIFO swapped in after the lstat must not block the runtime on open.
      const fd = fs.openSync(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        const stat = fs.fstatSync(fd, { bigint: true });
        if (!stat.isFile() || stat.ino !== before.ino || stat.dev !== before.dev) return undefined;
        if (stat.size > BigInt(this.maxFileBytes))
          throw new RuntimeFailure('too_large', `${JSON.stringify(rel)} is over the file size limit`);
        const content = fs.readFileSync(fd);
        const sha256 = createHash('sha256').update(content).digest('hex');
        return { state: { path: rel, size: content.length, stamp: stampOf(stat), sha256 }, content };
      } finally {
        fs.closeSync(fd);
      }
    });
    if (!read)
      throw new RuntimeFailure(
        'not_found',
        `${JSON.stringify(rel)} is not a file (or changed while it was read)`,
      );
    return read;
  }

  /**
   * Runs `work` with the working directory pinned to the folder `segments` names. Each folder is
   * entered by its name relative to the one already entered, and checked to be the very folder
   * lstat saw (device and inode), so a folder swapped for a symlink on the way is never followed:
   * what `work` opens by plain name resolves inside that folder, whatever happens to the path
   * above it meanwhile. With `create`, missing folders are made and a symlink or file where a
   * folder belongs is replaced. Returns undefined when the path is not (or no longer) there.
   */
  private pinned<T>(segments: string[], create: boolean, work: () => T): T | undefined {
    const home = currentDirectory(`${this.rootReal}/workspace`);
    try {
      process.chdir(this.rootReal);
      for (const segment of segments) {
        let stat = lstatOrNull(segment);
        if (!stat?.isDirectory()) {
          if (!create) return undefined;
          if (stat) fs.unlinkSync(segment);
          fs.mkdirSync(segment, { mode: 0o700 });
          stat = lstatOrNull(segment);
          if (!stat?.isDirectory()) return undefined;
        }
        process.chdir(segment);
        const here = fs.statSync('.', { bigint: true });
        if (here.ino !== stat.ino || here.dev !== stat.dev)
          throw new RuntimeFailure('not_found', 'a folder was replaced while the files were synced');
      }
      return work();
    } finally {
      try {
        process.chdir(home);
      } catch {
        process.chdir(this.rootReal);
      }
    }
  }
}

/** The working directory, or `fallback` when a script left it where no path reaches (too deep). */
function currentDirectory(fallback: string): string {
  try {
    return process.cwd();
  } catch {
    return fallback;
  }
}

/** A file path under one of the three folders, as segments (the syntactic checks of paths.mts). */
function fileSegments(input: unknown): string[] {
  const segments = splitPath(input, false);
  if (segments.length < 2 || !topLevelFolders.includes(segments[0] as string))
    throw new RuntimeFailure('invalid_path', `sync paths lie under ${topLevelFolders.join('/, ')}/`);
  return segments;
}

function checkLimits(limits: SyncLimits | undefined): SyncLimits {
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (
    !limits ||
    !ok(limits.maxFiles) ||
    !ok(limits.maxDepth) ||
    !ok(limits.maxPathLength) ||
    !ok(limits.maxSegmentLength)
  )
    throw new RuntimeFailure('invalid_request', 'limits must be positive integers');
  return limits;
}
