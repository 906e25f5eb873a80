import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFileSync, type FileSync } from '../../src/engine/index.js';
import type { ManagedSandboxOrchestrator, SandboxLease } from '../../src/sandbox/index.js';
import { QuotaExceededError } from '../../src/store/index.js';
import { memoryFiles, tempDir } from '../engine/support/doubles.js';
import { createPool, makeRoot, removeRoot } from '../sandbox/support.js';

// The sync runs inside the user's sandbox (process level: the cheapest real one); the test plays
// the user's code by changing the directory on the host, handing what it writes to the sandbox uid.
describe('file sync', () => {
  let root: string;
  let pool: ManagedSandboxOrchestrator;
  let files: ReturnType<typeof memoryFiles>;
  let userId: string;
  const leases: SandboxLease[] = [];
  const local = (p: string) => path.join(pool.userDir(userId), p);
  const read = (p: string) => fs.readFile(local(p), 'utf8');
  const sync = (quotaBytes = 1_000_000) => createFileSync({ files, quotaBytes, quotaFiles: 10_000 });
  const lease = async (id = userId) => {
    const taken = await pool.acquire(id);
    leases.push(taken);
    return taken;
  };
  /** The sync's calls for one step, in a lease of their own. */
  async function prepare(s: FileSync, id = userId) {
    const taken = await lease(id);
    try {
      return await s.prepare(taken);
    } finally {
      taken.release();
    }
  }
  async function collect(s: FileSync, id = userId, onClose?: () => void) {
    const taken = await lease(id);
    return s.collect(taken, {
      onClose: () => {
        taken.release();
        onClose?.();
      },
    });
  }
  /** What the worker does with a write-back when it finishes the execution. */
  async function commit(s: FileSync, id = userId) {
    const writeBack = await collect(s, id);
    let stored = false;
    try {
      await files.apply(id, writeBack, writeBack.quotaBytes);
      stored = true;
    } finally {
      writeBack.close(stored);
    }
    return writeBack.changes;
  }
  /** Writes as user code would: the file (and new folders) belong to the sandbox's uid. */
  async function write(p: string, content: string | Buffer) {
    const owner = await fs.stat(pool.userDir(userId));
    const segments = p.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = local(segments.slice(0, i).join('/'));
      await fs.mkdir(dir).catch(() => undefined);
      await fs.lchown(dir, owner.uid, owner.gid);
    }
    await fs.writeFile(local(p), content);
    await fs.lchown(local(p), owner.uid, owner.gid);
  }

  beforeAll(async () => {
    root = await makeRoot();
    pool = await createPool(root, 'process');
  });
  afterAll(async () => {
    await pool.shutdown();
    await removeRoot(root);
  });
  beforeEach(() => {
    files = memoryFiles();
    userId = randomUUID();
  });
  afterEach(() => {
    for (const taken of leases.splice(0)) taken.release();
  });

  it('materialises the database files in a fresh directory', async () => {
    await files.put(userId, 'uploads/data.csv', Buffer.from('a,b\n1,2\n'), 1e6);
    await files.put(userId, 'workspace/deep/nested/x.txt', Buffer.from('x'), 1e6);
    const report = await prepare(sync());
    expect(report.restored).toBe(2);
    expect(await read('uploads/data.csv')).toBe('a,b\n1,2\n');
    expect(await read('workspace/deep/nested/x.txt')).toBe('x');
  });

  it('round-trips binary content and non-ASCII names', async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await files.put(userId, 'uploads/報告 2026.bin', binary, 1e6);
    const s = sync();
    await prepare(s);
    expect(await fs.readFile(local('uploads/報告 2026.bin'))).toEqual(binary);
    await write('outputs/résumé ✓.bin', Buffer.concat([binary, binary]));
    const changes = await commit(s);
    expect(changes).toEqual([{ path: 'outputs/résumé ✓.bin', change: 'created', size: 512 }]);
    expect((await files.get(userId, 'outputs/résumé ✓.bin'))?.content).toEqual(
      Buffer.concat([binary, binary]),
    );
  });

  it('costs only stat calls when nothing changed, and restores a stale copy by hash', async () => {
    await files.put(userId, 'uploads/a.txt', Buffer.from('version 1'), 1e6);
    const s = sync();
    await prepare(s);
    const unchanged = await prepare(s);
    expect(unchanged).toEqual({ restored: 0, removed: 0, hashed: 0 });

    // Same size, different content: only the hash tells them apart.
    await write('uploads/a.txt', 'version X');
    const stale = await prepare(s);
    expect(stale.restored).toBe(1);
    expect(await read('uploads/a.txt')).toBe('version 1');

    // Another replica changed the file in the database.
    await files.put(userId, 'uploads/a.txt', Buffer.from('version 2'), 1e6);
    expect((await prepare(s)).restored).toBe(1);
    expect(await read('uploads/a.txt')).toBe('version 2');
  });

  it('lists the stored files again only when their revision moved', async () => {
    await files.put(userId, 'uploads/a.txt', Buffer.from('one'), 1e6);
    let revision = 1;
    let lists = 0;
    const counted = {
      ...files,
      list: (...args: Parameters<typeof files.list>) => {
        lists++;
        return files.list(...args);
      },
    };
    const s = createFileSync({
      files: counted,
      quotaBytes: 1e6,
      quotaFiles: 10_000,
      syncState: async () => ({ generation: 0, filesRevision: revision }),
    });
    await prepare(s);
    expect(await prepare(s)).toEqual({ restored: 0, removed: 0, hashed: 0 });
    expect(lists).toBe(1);
    // Another replica changed the files: the revision moved, so the list is read again.
    await files.put(userId, 'uploads/a.txt', Buffer.from('two'), 1e6);
    revision = 2;
    expect((await prepare(s)).restored).toBe(1);
    expect(await read('uploads/a.txt')).toBe('two');
    expect(lists).toBe(2);
    // A forgotten user (a wiped directory) is listed afresh.
    s.forget(userId);
    await prepare(s);
    expect(lists).toBe(3);
  });

  it('keeps manifests for a bounded number of users, least recently used dropped first', async () => {
    const s = createFileSync({ files, quotaBytes: 1e6, quotaFiles: 10_000, maxUsers: 2 });
    const users = [randomUUID(), randomUUID(), userId];
    for (const id of users) await files.put(id, 'uploads/f.txt', Buffer.from(id), 1e6);
    for (const id of users) await prepare(s, id);
    // The newest two are known; the first was dropped and is hashed again (not rewritten).
    expect((await prepare(s, users[2] as string)).hashed).toBe(0);
    expect((await prepare(s, users[1] as string)).hashed).toBe(0);
    expect(await prepare(s, users[0] as string)).toEqual({ restored: 0, removed: 0, hashed: 1 });
  });

  it('a new pod with a matching copy hashes but does not rewrite', async () => {
    await files.put(userId, 'outputs/r.txt', Buffer.from('same'), 1e6);
    await pool.acquire(userId).then((taken) => taken.release());
    await write('outputs/r.txt', 'same');
    const report = await prepare(sync());
    expect(report).toEqual({ restored: 0, removed: 0, hashed: 1 });
  });

  it('deletes local files the database no longer has', async () => {
    await files.put(userId, 'workspace/keep.txt', Buffer.from('k'), 1e6);
    await files.put(userId, 'workspace/old/gone.txt', Buffer.from('g'), 1e6);
    const s = sync();
    await prepare(s);
    await files.delete(userId, 'workspace/old/gone.txt');
    const report = await prepare(s);
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
    await prepare(s);
    await write('workspace/change.txt', 'after!');
    await fs.rm(local('workspace/remove.txt'));
    await write('outputs/report/new.txt', 'fresh');
    // Touching without changing content is not a change.
    await write('workspace/same.txt', 'same');

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
    await prepare(s);
    await fs.symlink('/etc/passwd', local('workspace/passwd-link'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [local('workspace/pipe')]);
    await write('workspace/back\\slash.txt', 'odd name');
    await write('workspace/ok.txt', 'ok');
    const changes = await commit(s);
    expect(changes.map((c) => c.path)).toEqual(['workspace/ok.txt']);
    expect([...(files.data.get(userId)?.keys() ?? [])]).toEqual(['workspace/ok.txt']);
  });

  it('collects without storing; a dropped write-back is offered again, a stored one is not', async () => {
    const s = sync();
    await prepare(s);
    await write('outputs/a.txt', 'a');
    let released = 0;
    const first = await collect(s, userId, () => released++);
    expect(first.changes).toEqual([{ path: 'outputs/a.txt', change: 'created', size: 1 }]);
    expect(first.writes.map((w) => w.content.toString())).toEqual(['a']);
    expect(await files.get(userId, 'outputs/a.txt')).toBeNull();
    expect(released).toBe(0);
    // The worker died, lost a race or the execution was cancelled: nothing was stored.
    first.close(false);
    first.close(true);
    expect(released).toBe(1);
    const second = await collect(s);
    expect(second.changes).toEqual(first.changes);
    await files.apply(userId, second, second.quotaBytes);
    second.close(true);
    const third = await collect(s);
    expect(third.changes).toEqual([]);
    third.close(false);
  });

  it('a write-back over the quota is refused whole and the next prepare restores the stored files', async () => {
    await files.put(userId, 'uploads/existing.txt', Buffer.from('0123456789'), 1e6);
    const s = sync(25);
    await prepare(s);
    await write('uploads/existing.txt', 'changed content');
    await write('outputs/big.bin', Buffer.alloc(20));
    const error = await commit(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((await files.get(userId, 'uploads/existing.txt'))?.content.toString()).toBe('0123456789');
    expect(await files.get(userId, 'outputs/big.bin')).toBeNull();
    // The next execution starts from the database's state again.
    await prepare(s);
    expect(await read('uploads/existing.txt')).toBe('0123456789');
    await expect(fs.stat(local('outputs/big.bin'))).rejects.toThrow();
  });

  it('replaces a symlinked folder instead of writing through it', async () => {
    const outside = await tempDir('ipa-outside-');
    await pool.acquire(userId).then((taken) => taken.release());
    await fs.rm(local('uploads'), { recursive: true });
    await fs.symlink(outside, local('uploads'));
    await files.put(userId, 'uploads/a.txt', Buffer.from('inside'), 1e6);
    await prepare(sync());
    expect(await fs.readdir(outside)).toEqual([]);
    expect((await fs.lstat(local('uploads'))).isDirectory()).toBe(true);
    expect(await read('uploads/a.txt')).toBe('inside');
    await fs.rm(outside, { recursive: true, force: true });
  });

  it.runIf(process.getuid?.() === 0)(
    'restored files belong to the sandbox uid, never to the worker',
    async () => {
      await files.put(userId, 'uploads/deep/owned.txt', Buffer.from('mine'), 1e6);
      await prepare(sync());
      // The uid of the user's sandbox owns the directory (one uid per live sandbox).
      const owner = await fs.lstat(pool.userDir(userId));
      expect(owner.uid).not.toBe(0);
      for (const p of ['uploads', 'uploads/deep', 'uploads/deep/owned.txt']) {
        const stat = await fs.lstat(local(p));
        expect([p, stat.uid, stat.gid]).toEqual([p, owner.uid, owner.gid]);
      }
    },
  );
});
