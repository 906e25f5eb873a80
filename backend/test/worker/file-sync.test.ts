import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileSync, type FileSync } from '../../src/engine/index.js';
import { QuotaExceededError } from '../../src/store/index.js';
import { memoryFiles, tempDir } from '../engine/support/doubles.js';

const userId = '6f1d3c1e-1111-4a4a-9a9a-000000000001';

describe('file sync', () => {
  let root: string;
  let files: ReturnType<typeof memoryFiles>;
  const userDir = (id: string) => path.join(root, id);
  const local = (p: string) => path.join(root, userId, p);
  const read = (p: string) => fs.readFile(local(p), 'utf8');
  const sync = (quotaBytes = 1_000_000) => createFileSync({ files, userDir, quotaBytes });
  /** What the worker does with a write-back when it finishes the execution. */
  async function commit(s: FileSync, id = userId) {
    const writeBack = await s.collect(id);
    let stored = false;
    try {
      await files.apply(id, writeBack, writeBack.quotaBytes);
      stored = true;
    } finally {
      writeBack.close(stored);
    }
    return writeBack.changes;
  }

  beforeEach(async () => {
    root = await tempDir('ipa-sync-');
    files = memoryFiles();
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('materialises the database files in a fresh directory', async () => {
    await files.put(userId, 'uploads/data.csv', Buffer.from('a,b\n1,2\n'), 1e6);
    await files.put(userId, 'workspace/deep/nested/x.txt', Buffer.from('x'), 1e6);
    const report = await sync().prepare(userId);
    expect(report.restored).toBe(2);
    expect(await read('uploads/data.csv')).toBe('a,b\n1,2\n');
    expect(await read('workspace/deep/nested/x.txt')).toBe('x');
  });

  it('round-trips binary content and non-ASCII names', async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await files.put(userId, 'uploads/報告 2026.bin', binary, 1e6);
    const s = sync();
    await s.prepare(userId);
    expect(await fs.readFile(local('uploads/報告 2026.bin'))).toEqual(binary);
    await fs.writeFile(local('outputs/résumé ✓.bin'), Buffer.concat([binary, binary]));
    const changes = await commit(s);
    expect(changes).toEqual([{ path: 'outputs/résumé ✓.bin', change: 'created', size: 512 }]);
    expect((await files.get(userId, 'outputs/résumé ✓.bin'))?.content).toEqual(
      Buffer.concat([binary, binary]),
    );
  });

  it('costs only stat calls when nothing changed, and restores a stale copy by hash', async () => {
    await files.put(userId, 'uploads/a.txt', Buffer.from('version 1'), 1e6);
    const s = sync();
    await s.prepare(userId);
    const unchanged = await s.prepare(userId);
    expect(unchanged).toEqual({ restored: 0, removed: 0, hashed: 0 });

    // Same size, different content: only the hash tells them apart.
    await fs.writeFile(local('uploads/a.txt'), 'version X');
    const stale = await s.prepare(userId);
    expect(stale.restored).toBe(1);
    expect(await read('uploads/a.txt')).toBe('version 1');

    // Another replica changed the file in the database.
    await files.put(userId, 'uploads/a.txt', Buffer.from('version 2'), 1e6);
    expect((await s.prepare(userId)).restored).toBe(1);
    expect(await read('uploads/a.txt')).toBe('version 2');
  });

  it('keeps manifests for a bounded number of users, least recently used dropped first', async () => {
    const s = createFileSync({ files, userDir, quotaBytes: 1e6, maxUsers: 2 });
    const users = ['6f1d3c1e-1111-4a4a-9a9a-00000000000a', '6f1d3c1e-1111-4a4a-9a9a-00000000000b', userId];
    for (const id of users) await files.put(id, 'uploads/f.txt', Buffer.from(id), 1e6);
    for (const id of users) await s.prepare(id);
    // The newest two are known; the first was dropped and is hashed again (not rewritten).
    expect((await s.prepare(users[2] as string)).hashed).toBe(0);
    expect((await s.prepare(users[1] as string)).hashed).toBe(0);
    expect(await s.prepare(users[0] as string)).toEqual({ restored: 0, removed: 0, hashed: 1 });
  });

  it('a new pod with a matching copy hashes but does not rewrite', async () => {
    await files.put(userId, 'outputs/r.txt', Buffer.from('same'), 1e6);
    await fs.mkdir(local('outputs'), { recursive: true });
    await fs.writeFile(local('outputs/r.txt'), 'same');
    const report = await sync().prepare(userId);
    expect(report).toEqual({ restored: 0, removed: 0, hashed: 1 });
  });

  it('deletes local files the database no longer has', async () => {
    await files.put(userId, 'workspace/keep.txt', Buffer.from('k'), 1e6);
    await files.put(userId, 'workspace/old/gone.txt', Buffer.from('g'), 1e6);
    const s = sync();
    await s.prepare(userId);
    await files.delete(userId, 'workspace/old/gone.txt');
    const report = await s.prepare(userId);
    expect(report.removed).toBe(1);
    await expect(fs.stat(local('workspace/old/gone.txt'))).rejects.toThrow();
    await expect(fs.stat(local('workspace/old'))).rejects.toThrow();
    expect(await read('workspace/keep.txt')).toBe('k');
  });

  it('writes back created, modified and deleted files and reports each change', async () => {
    await files.put(userId, 'workspace/change.txt', Buffer.from('before'), 1e6);
    await files.put(userId, 'workspace/remove.txt', Buffer.from('bye'), 1e6);
    await files.put(userId, 'workspace/same.txt', Buffer.from('same'), 1e6);
    const s = sync();
    await s.prepare(userId);
    await fs.writeFile(local('workspace/change.txt'), 'after!');
    await fs.rm(local('workspace/remove.txt'));
    await fs.mkdir(local('outputs/report'), { recursive: true });
    await fs.writeFile(local('outputs/report/new.txt'), 'fresh');
    // Touching without changing content is not a change.
    await fs.writeFile(local('workspace/same.txt'), 'same');

    const changes = await commit(s);
    expect(new Set(changes.map((c) => `${c.change} ${c.path} ${c.size ?? ''}`))).toEqual(
      new Set([
        'deleted workspace/remove.txt ',
        'modified workspace/change.txt 6',
        'created outputs/report/new.txt 5',
      ]),
    );
    expect((await files.get(userId, 'workspace/change.txt'))?.content.toString()).toBe('after!');
    expect((await files.get(userId, 'outputs/report/new.txt'))?.content.toString()).toBe('fresh');
    expect(await files.get(userId, 'workspace/remove.txt')).toBeNull();
    // Nothing left to write back.
    expect(await commit(s)).toEqual([]);
  });

  it('skips symlinks, FIFOs and names the platform refuses', async () => {
    const s = sync();
    await s.prepare(userId);
    await fs.mkdir(local('workspace'), { recursive: true });
    await fs.symlink('/etc/passwd', local('workspace/passwd-link'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [local('workspace/pipe')]);
    await fs.writeFile(local('workspace/back\\slash.txt'), 'odd name');
    await fs.writeFile(local('workspace/ok.txt'), 'ok');
    const changes = await commit(s);
    expect(changes.map((c) => c.path)).toEqual(['workspace/ok.txt']);
    expect([...(files.data.get(userId)?.keys() ?? [])]).toEqual(['workspace/ok.txt']);
  });

  it('collects without storing; a dropped write-back is offered again, a stored one is not', async () => {
    const s = sync();
    await s.prepare(userId);
    await fs.writeFile(local('outputs/a.txt'), 'a');
    let released = 0;
    const first = await s.collect(userId, { onClose: () => released++ });
    expect(first.changes).toEqual([{ path: 'outputs/a.txt', change: 'created', size: 1 }]);
    expect(first.writes.map((w) => w.content.toString())).toEqual(['a']);
    expect(await files.get(userId, 'outputs/a.txt')).toBeNull();
    expect(released).toBe(0);
    // The worker died, lost a race or the execution was cancelled: nothing was stored.
    first.close(false);
    first.close(true);
    expect(released).toBe(1);
    const second = await s.collect(userId);
    expect(second.changes).toEqual(first.changes);
    await files.apply(userId, second, second.quotaBytes);
    second.close(true);
    expect((await s.collect(userId)).changes).toEqual([]);
  });

  it('a write-back over the quota is refused whole and the next prepare restores the stored files', async () => {
    await files.put(userId, 'uploads/existing.txt', Buffer.from('0123456789'), 1e6);
    const s = sync(25);
    await s.prepare(userId);
    await fs.writeFile(local('uploads/existing.txt'), 'changed content');
    await fs.writeFile(local('outputs/big.bin'), Buffer.alloc(20));
    const error = await commit(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((await files.get(userId, 'uploads/existing.txt'))?.content.toString()).toBe('0123456789');
    expect(await files.get(userId, 'outputs/big.bin')).toBeNull();
    // The next execution starts from the database's state again.
    await s.prepare(userId);
    expect(await read('uploads/existing.txt')).toBe('0123456789');
    await expect(fs.stat(local('outputs/big.bin'))).rejects.toThrow();
  });

  it('replaces a symlinked folder instead of writing through it', async () => {
    const outside = await tempDir('ipa-outside-');
    await fs.mkdir(path.join(root, userId), { recursive: true });
    await fs.symlink(outside, local('uploads'));
    await files.put(userId, 'uploads/a.txt', Buffer.from('inside'), 1e6);
    await sync().prepare(userId);
    expect(await fs.readdir(outside)).toEqual([]);
    expect(await read('uploads/a.txt')).toBe('inside');
    await fs.rm(outside, { recursive: true, force: true });
  });

  it.runIf(process.getuid?.() === 0)(
    'gives restored files to the uid that owns the user directory',
    async () => {
      await fs.mkdir(path.join(root, userId), { recursive: true });
      await fs.chown(path.join(root, userId), 65_534, 65_534);
      await files.put(userId, 'uploads/deep/owned.txt', Buffer.from('mine'), 1e6);
      await sync().prepare(userId);
      for (const p of ['uploads', 'uploads/deep', 'uploads/deep/owned.txt']) {
        const stat = await fs.lstat(local(p));
        expect([p, stat.uid, stat.gid]).toEqual([p, 65_534, 65_534]);
      }
    },
  );
});
