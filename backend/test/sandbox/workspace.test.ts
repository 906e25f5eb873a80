import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertUserId,
  diffSnapshots,
  ensureUserDirectory,
  snapshotUserFiles,
  userUsageBytes,
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

  it('snapshots regular files and diffs them, skipping links and special files', async () => {
    root = await makeRoot();
    const user = randomUUID();
    const dir = await ensureUserDirectory(root, user);
    await fs.writeFile(path.join(dir, 'uploads/a.csv'), 'a,b\n1,2\n');
    await fs.writeFile(path.join(dir, 'workspace/keep.txt'), 'same');
    await fs.writeFile(path.join(dir, 'workspace/gone.txt'), 'bye');
    await fs.symlink('/etc/passwd', path.join(dir, 'workspace/link'));
    execFileSync('mkfifo', [path.join(dir, 'workspace/pipe')]);
    const before = await snapshotUserFiles(root, user);
    expect([...before.keys()].sort()).toEqual(['uploads/a.csv', 'workspace/gone.txt', 'workspace/keep.txt']);
    expect(before.get('uploads/a.csv')).toMatchObject({
      size: 8,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    await fs.writeFile(path.join(dir, 'uploads/a.csv'), 'a,b\n1,3\n');
    await fs.rm(path.join(dir, 'workspace/gone.txt'));
    await fs.mkdir(path.join(dir, 'outputs/charts'));
    await fs.writeFile(path.join(dir, 'outputs/charts/c.svg'), '<svg/>');
    const after = await snapshotUserFiles(root, user, before);
    expect(diffSnapshots(before, after)).toEqual({
      created: ['outputs/charts/c.svg'],
      modified: ['uploads/a.csv'],
      deleted: ['workspace/gone.txt'],
    });
    expect(await userUsageBytes(root, user)).toBe(8 + 4 + 6);
  });
});
