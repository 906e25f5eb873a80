import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertUserId,
  directoryUsage,
  discardUserDirectory,
  ensureUserDirectory,
} from '../../src/sandbox/index.js';
import { makeRoot, removeRoot } from './support.js';

let root: string | undefined;
afterEach(async () => {
  if (root) await removeRoot(root);
  root = undefined;
});

describe('workspace', () => {
  it('accepts UUIDs only as user ids', () => {
    expect(() => assertUserId(randomUUID())).not.toThrow();
    for (const bad of ['', '..', '../x', 'a/b', 'abc', `${randomUUID()}x`, 42]) {
      expect(() => assertUserId(bad)).toThrow(/invalid user id/);
    }
  });

  it('creates the three folders with mode 0700', async () => {
    root = await makeRoot();
    const user = randomUUID();
    const dir = await ensureUserDirectory(root, user);
    for (const folder of ['', 'uploads', 'workspace', 'outputs']) {
      const stat = await fs.stat(path.join(dir, folder));
      expect(stat.isDirectory()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o700);
    }
  });

  it('measures usage without following links and stops at the limits', async () => {
    root = await makeRoot();
    const dir = await ensureUserDirectory(root, randomUUID());
    const outside = path.join(path.dirname(root), 'outside');
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'big'), Buffer.alloc(100_000));
    await fs.writeFile(path.join(dir, 'uploads/a.csv'), 'a,b\n1,2\n');
    await fs.writeFile(path.join(dir, 'workspace/keep.txt'), 'same');
    await fs.symlink(outside, path.join(dir, 'workspace/linked-folder'));
    await fs.symlink(path.join(outside, 'big'), path.join(dir, 'workspace/linked-file'));
    execFileSync('mkfifo', [path.join(dir, 'workspace/pipe')]);
    expect(await directoryUsage(dir, { maxFiles: 100, maxDepth: 10 })).toEqual({ bytes: 12, files: 2 });
    expect((await directoryUsage(dir, { maxFiles: 1, maxDepth: 10 })).exceeded).toBe('files');
    await fs.mkdir(path.join(dir, 'outputs/a/b/c/d'), { recursive: true });
    expect((await directoryUsage(dir, { maxFiles: 100, maxDepth: 4 })).exceeded).toBe('depth');
  });

  it('discards a user directory of any depth without following its links', async () => {
    root = await makeRoot();
    const user = randomUUID();
    const dir = await ensureUserDirectory(
      root,
      user,
      process.getuid?.() === 0 ? { uid: 65_534, gid: 65_534 } : undefined,
    );
    const outside = path.join(path.dirname(root), 'outside');
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'canary'), 'keep me', { mode: 0o600 });
    await fs.symlink(outside, path.join(dir, 'workspace/link'));
    // 3,000 levels: far past PATH_MAX, as a script can make them with relative paths.
    execFileSync(
      process.execPath,
      [
        '-e',
        "const fs=require('fs');process.chdir(process.argv[1]);for(let i=0;i<3000;i++){fs.mkdirSync('d');process.chdir('d')}fs.writeFileSync('f','x')",
        path.join(dir, 'workspace'),
      ],
      { cwd: '/', ...(process.getuid?.() === 0 ? { uid: 65_534, gid: 65_534 } : {}) },
    );
    await fs.chmod(path.join(dir, 'outputs'), 0o000);
    await discardUserDirectory(root, user);
    expect(await fs.readdir(root)).toEqual([]);
    expect(await fs.readFile(path.join(outside, 'canary'), 'utf8')).toBe('keep me');
    // Discarding what is not there is a no-op.
    await discardUserDirectory(root, user);
  });
});
