/** The `fs.*` methods, run inside the sandbox against the user's directory only. */
import fs from 'node:fs';
import type { RpcMethods, RuntimeSettings } from '../protocol.js';
import type { FsEntry } from '../types.js';
import {
  followInside,
  isInside,
  RuntimeFailure,
  resolveInside,
  scanFiles,
  topLevelFolders,
} from './paths.mjs';

const maxListEntries = 10_000;
const { O_RDONLY, O_WRONLY, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

type Params<M extends keyof RpcMethods> = RpcMethods[M]['params'];
type Result<M extends keyof RpcMethods> = RpcMethods[M]['result'];

export type FileChange = (path: string, change: 'created' | 'modified' | 'deleted') => void;

export class FileTools {
  readonly rootReal: string;

  constructor(private readonly settings: RuntimeSettings) {
    this.rootReal = fs.realpathSync(settings.root);
  }

  list(params: Params<'fs.list'>): Result<'fs.list'> {
    const resolved = resolveInside(this.rootReal, params.path ?? '', true);
    if (!resolved.stat)
      throw new RuntimeFailure('not_found', `folder ${JSON.stringify(resolved.rel)} does not exist`);
    const start = followInside(this.rootReal, resolved);
    if (!fs.statSync(start).isDirectory()) {
      throw new RuntimeFailure('invalid_request', `${JSON.stringify(resolved.rel)} is a file, not a folder`);
    }
    const entries: FsEntry[] = [];
    const stack: Array<[string, string]> = [[start, resolved.rel]];
    while (stack.length > 0) {
      const [dir, rel] = stack.pop() as [string, string];
      const names = fs.readdirSync(dir).sort();
      for (const name of names) {
        const childRel = rel ? `${rel}/${name}` : name;
        let stat: fs.Stats;
        try {
          stat = fs.lstatSync(`${dir}/${name}`);
        } catch {
          continue;
        }
        // Symlinks and special files are not listed: tools would refuse to open them anyway.
        if (stat.isDirectory()) {
          entries.push({ path: childRel, type: 'directory', size: 0 });
          if (params.recursive !== false) stack.push([`${dir}/${name}`, childRel]);
        } else if (stat.isFile()) {
          entries.push({ path: childRel, type: 'file', size: stat.size });
        }
        if (entries.length >= maxListEntries) {
          throw new RuntimeFailure(
            'too_large',
            `more than ${maxListEntries} entries under ${JSON.stringify(resolved.rel)}; list a smaller folder`,
          );
        }
      }
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  read(params: Params<'fs.read'>): Result<'fs.read'> {
    const resolved = resolveInside(this.rootReal, params.path);
    if (!resolved.stat)
      throw new RuntimeFailure('not_found', `file ${JSON.stringify(resolved.rel)} does not exist`);
    const target = followInside(this.rootReal, resolved);
    // O_NONBLOCK: a FIFO swapped in after the checks must not block the runtime on open.
    const fd = fs.openSync(target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const stat = fs.fstatSync(fd);
      if (stat.isDirectory())
        throw new RuntimeFailure(
          'invalid_request',
          `${JSON.stringify(resolved.rel)} is a folder, not a file`,
        );
      if (!stat.isFile() || stat.nlink > 1) {
        throw new RuntimeFailure(
          'invalid_path',
          `path ${JSON.stringify(resolved.rel)} refused: not a plain file`,
        );
      }
      if (stat.size > this.settings.maxFileBytes) {
        throw new RuntimeFailure(
          'too_large',
          `file ${JSON.stringify(resolved.rel)} has ${stat.size} bytes, over the ${this.settings.maxFileBytes}-byte limit`,
        );
      }
      const buffer = fs.readFileSync(fd);
      try {
        const content = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
        return { content, encoding: 'utf8', size: buffer.length };
      } catch {
        return { content: buffer.toString('base64'), encoding: 'base64', size: buffer.length };
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  write(params: Params<'fs.write'>, changed: FileChange): Result<'fs.write'> {
    if (typeof params.content !== 'string')
      throw new RuntimeFailure('invalid_request', 'content must be a string');
    const encoding = params.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'base64')
      throw new RuntimeFailure('invalid_request', `unknown encoding ${JSON.stringify(encoding)}`);
    const data = Buffer.from(params.content, encoding);
    return { size: this.writeBuffer(params.path, data, changed) };
  }

  edit(params: Params<'fs.edit'>, changed: FileChange): Result<'fs.edit'> {
    if (typeof params.oldText !== 'string' || params.oldText === '') {
      throw new RuntimeFailure('invalid_request', 'oldText must be a non-empty string');
    }
    if (typeof params.newText !== 'string')
      throw new RuntimeFailure('invalid_request', 'newText must be a string');
    const current = this.read({ path: params.path });
    if (current.encoding !== 'utf8')
      throw new RuntimeFailure('invalid_request', `${JSON.stringify(params.path)} is not a text file`);
    const parts = current.content.split(params.oldText);
    const replacements = parts.length - 1;
    if (replacements === 0)
      throw new RuntimeFailure(
        'not_found',
        `the text to replace was not found in ${JSON.stringify(params.path)}`,
      );
    if (replacements > 1 && !params.replaceAll) {
      throw new RuntimeFailure(
        'invalid_request',
        `the text to replace occurs ${replacements} times in ${JSON.stringify(params.path)}; give more context or replace all`,
      );
    }
    this.writeBuffer(params.path, Buffer.from(parts.join(params.newText), 'utf8'), changed);
    return { replacements };
  }

  delete(params: Params<'fs.delete'>, changed: FileChange): Result<'fs.delete'> {
    const resolved = resolveInside(this.rootReal, params.path);
    if (resolved.segments.length === 1 && topLevelFolders.includes(resolved.rel)) {
      throw new RuntimeFailure(
        'invalid_path',
        `the top-level folder ${JSON.stringify(resolved.rel)} cannot be deleted`,
      );
    }
    if (!resolved.stat)
      throw new RuntimeFailure('not_found', `${JSON.stringify(resolved.rel)} does not exist`);
    // rm never follows a symlink: the link itself is removed, its target is untouched.
    fs.rmSync(resolved.abs, { recursive: true, force: false });
    changed(resolved.rel, 'deleted');
    return { deleted: true };
  }

  usage(): number {
    return this.scan().bytes;
  }

  scan() {
    return scanFiles(this.rootReal, this.settings.walkLimits);
  }

  private writeBuffer(path: string, data: Buffer, changed: FileChange): number {
    const resolved = resolveInside(this.rootReal, path);
    const top = resolved.segments[0] ?? '';
    if (!topLevelFolders.includes(top) || resolved.segments.length < 2) {
      throw new RuntimeFailure(
        'invalid_path',
        `files are written under ${topLevelFolders.join('/, ')}/ only (got ${JSON.stringify(resolved.rel)})`,
      );
    }
    if (resolved.stat?.isSymbolicLink()) {
      throw new RuntimeFailure(
        'invalid_path',
        `path ${JSON.stringify(resolved.rel)} refused: writing through a symlink is not allowed`,
      );
    }
    if (resolved.stat?.isDirectory())
      throw new RuntimeFailure('invalid_request', `${JSON.stringify(resolved.rel)} is a folder`);
    if (data.length > this.settings.maxFileBytes) {
      throw new RuntimeFailure(
        'too_large',
        `write of ${data.length} bytes refused: over the ${this.settings.maxFileBytes}-byte file limit`,
      );
    }
    const previous = resolved.stat?.size ?? 0;
    const used = this.usage();
    if (used - previous + data.length > this.settings.quotaBytes) {
      throw new RuntimeFailure(
        'quota_exceeded',
        `write of ${data.length} bytes refused: the user's files would use ${used - previous + data.length} bytes, over the quota of ${this.settings.quotaBytes}`,
      );
    }
    // Parents are created one by one so each new folder is checked like the rest of the path.
    let dir = this.rootReal;
    for (const segment of resolved.segments.slice(0, -1)) {
      dir = `${dir}/${segment}`;
      try {
        fs.mkdirSync(dir, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const real = fs.realpathSync(dir);
      if (!isInside(this.rootReal, real))
        throw new RuntimeFailure(
          'invalid_path',
          `path ${JSON.stringify(resolved.rel)} refused: it leads outside the user's directory`,
        );
    }
    const fd = fs.openSync(resolved.abs, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile() || stat.nlink > 1) {
        throw new RuntimeFailure(
          'invalid_path',
          `path ${JSON.stringify(resolved.rel)} refused: not a plain file`,
        );
      }
      fs.ftruncateSync(fd, 0);
      fs.writeFileSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    changed(resolved.rel, resolved.stat ? 'modified' : 'created');
    return data.length;
  }
}
