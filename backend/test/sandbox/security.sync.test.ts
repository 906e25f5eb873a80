/**
 * The security suite, file sync part: the worker's file sync and quota watcher must never follow a
 * link a sandbox swaps into its directory, and a user must never lock themselves out with a tree
 * too deep, too long or too big. At every isolation level this machine offers. The racer is a
 * process of the sandbox's uid swapping folders for symlinks (to a root-only host file, a host
 * folder, another user's workspace) as fast as it can while the sync and the runs go on; at
 * `bwrap` level a script also starts one inside the sandbox (a worker thread doing the same).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileSync, FileLimitError, type FileSync } from '../../src/engine/index.js';
import { type ManagedSandboxOrchestrator, SandboxError } from '../../src/sandbox/index.js';
import { memoryFiles } from '../engine/support/doubles.js';
import { availableLevels, createPool, evaluate, makeRoot, newUserId, removeRoot, runIn } from './support.js';

const levels = await availableLevels();
const raceMs = Number(process.env.IPA_SYNC_RACE_MS ?? 30_000);
/** The uid a root worker's sandbox of this user runs under: the owner of the user's directory. */
function sandboxUidOf(dir: string): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const { uid, gid } = statSync(dir);
  return { uid, gid };
}

/** Every file under `dir` (not following links): path → sha256 of content, or the link target. */
async function fingerprint(dir: string, skip: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(current: string): Promise<void> {
    for (const entry of await fs.readdir(current, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(current, entry.name);
      if (skip.includes(full)) continue;
      const rel = path.relative(dir, full);
      if (entry.isDirectory()) {
        out[`${rel}/`] = 'dir';
        await walk(full);
      } else if (entry.isSymbolicLink()) out[rel] = `-> ${await fs.readlink(full)}`;
      else {
        const stat = await fs.lstat(full);
        const content = stat.isFile()
          ? await fs.readFile(full).catch(() => Buffer.from('?'))
          : Buffer.from('');
        out[rel] = `${stat.mode.toString(8)} ${createHash('sha256').update(content).digest('hex')}`;
      }
    }
  }
  await walk(dir);
  return out;
}

/** Swaps folders of `dir` for symlinks to `targets` and back, as fast as it can, as the sandbox uid. */
function startHostRacer(dir: string, targets: string[]): ChildProcess {
  const code = `
    const fs = require('node:fs');
    const [dir, ...targets] = process.argv.slice(1);
    const folders = targets.map((_, i) => dir + '/workspace/swap' + i);
    const files = targets.map((_, i) => dir + '/workspace/file' + i);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    // Half of the time each name is a link: long enough for a check-then-use to be caught in it.
    for (;;) {
      targets.forEach((target, i) => {
        try { fs.renameSync(folders[i], folders[i] + '.real'); } catch {}
        try { fs.symlinkSync(target, folders[i]); } catch {}
        try { fs.unlinkSync(files[i]); } catch {}
        try { fs.symlinkSync(target, files[i]); } catch {}
      });
      Atomics.wait(pause, 0, 0, 2);
      targets.forEach((target, i) => {
        const name = folders[i];
        try { if (fs.lstatSync(name).isSymbolicLink()) fs.unlinkSync(name); } catch {}
        try { fs.renameSync(name + '.real', name); } catch {}
        // Written only into a folder this racer has just made itself, never through a link.
        try { fs.mkdirSync(name); fs.writeFileSync(name + '/inner.txt', 'inner ' + i); } catch {}
        try { if (fs.lstatSync(files[i]).isSymbolicLink()) fs.unlinkSync(files[i]); } catch {}
        try { fs.writeFileSync(files[i], 'plain ' + i, { flag: 'wx' }); } catch {}
      });
      Atomics.wait(pause, 0, 0, 2);
    }`;
  return spawn(process.execPath, ['-e', code, dir, ...targets], { stdio: 'ignore', ...sandboxUidOf(dir) });
}

/** Started by a script inside the sandbox (bwrap level: worker threads and links are allowed there). */
const innerRacer = `
const { Worker } = require('node:worker_threads');
const racer = new Worker(\`
  const fs = require('node:fs');
  const names = ['inner0', 'inner1'];
  const targets = ['/sandbox/runtime', '__HOST_CANARY__'];
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    names.forEach((name, i) => {
      try { fs.renameSync(name, name + '.real'); } catch {}
      try { fs.symlinkSync(targets[i], name); } catch {}
      try { fs.unlinkSync(name); } catch {}
      try { fs.renameSync(name + '.real', name); } catch {}
      try { fs.mkdirSync(name); fs.writeFileSync(name + '/f.txt', 'x'); } catch {}
    });
  }\`, { eval: true });
racer.unref();
return 'racing';`;

describe.each(levels)('file sync security at %s level', (level) => {
  let root: string;
  let outside: string;
  let pool: ManagedSandboxOrchestrator;
  const attacker = newUserId();
  const victim = newUserId();
  const hostSecret = 'HOST-CANARY-0600-5b1e';
  const victimSecret = 'CANARY-OF-ANOTHER-USER-93ad';

  beforeAll(async () => {
    root = await makeRoot();
    outside = path.dirname(root);
    await fs.writeFile(path.join(outside, 'host-canary'), hostSecret, { mode: 0o600 });
    await fs.mkdir(path.join(outside, 'host-dir'), { mode: 0o777 });
    await fs.chmod(path.join(outside, 'host-dir'), 0o777);
    await fs.writeFile(path.join(outside, 'host-dir', 'host-canary'), hostSecret, { mode: 0o600 });
    await fs.writeFile(path.join(outside, 'host-dir', 'data.txt'), hostSecret, { mode: 0o644 });
    pool = await createPool(root, level, { userQuotaFiles: 300 });
    const lease = await pool.acquire(victim);
    await lease.write('workspace/canary.txt', victimSecret);
    await lease.write('workspace/swap0/data.txt', victimSecret);
    lease.release();
  });
  afterAll(async () => {
    await pool?.shutdown();
    if (root) await removeRoot(root);
  });

  /** One execution as the worker runs it: prepare, the run, collect, store (or drop) the changes. */
  async function execution(
    sync: FileSync,
    files: ReturnType<typeof memoryFiles>,
    user: string,
    code: string,
  ) {
    const lease = await pool.acquire(user);
    let handedOver = false;
    try {
      await sync.prepare(lease);
      const run = await lease.run({ language: 'javascript', code, timeoutMs: 10_000, input: {} });
      const writeBack = await sync.collect(lease, { onClose: () => lease.release() });
      handedOver = true;
      let stored = false;
      try {
        await files.apply(user, writeBack, writeBack.quotaBytes);
        stored = true;
      } finally {
        writeBack.close(stored);
      }
      return { run, changes: writeBack.changes };
    } finally {
      if (!handedOver) lease.release();
    }
  }

  it(
    `never reads, writes or deletes through a swapped link while racing the sync for ${raceMs / 1000} s`,
    async () => {
      const files = memoryFiles();
      const sync = createFileSync({ files, quotaBytes: 4 * 1024 * 1024, quotaFiles: 300 });
      // Stored files whose folders the racer swaps: prepare writes into them, collect reads them.
      await files.put(attacker, 'workspace/swap0/data.txt', Buffer.from('mine 0'), 1e7);
      await files.put(attacker, 'workspace/swap1/data.txt', Buffer.from('mine 1'), 1e7);
      await files.put(attacker, 'workspace/swap2/host-canary', Buffer.from('mine 2'), 1e7);
      await pool.acquire(attacker).then((lease) => lease.release());
      const attackerDir = pool.userDir(attacker);
      const beforeOutside = await fingerprint(outside, [attackerDir]);
      const racer = startHostRacer(attackerDir, [
        path.join(pool.userDir(victim), 'workspace'),
        path.join(outside, 'host-canary'),
        path.join(outside, 'host-dir'),
      ]);
      let rounds = 0;
      let watcherKills = 0;
      try {
        const end = Date.now() + raceMs;
        while (Date.now() < end) {
          rounds++;
          const lease = await pool.acquire(attacker);
          lease.release();
          const code =
            level === 'bwrap' && rounds % 5 === 1
              ? innerRacer.replace('__HOST_CANARY__', path.join(outside, 'host-canary'))
              : // Runs long enough for the quota watcher to walk the racing tree several times.
                `require('node:fs').writeFileSync('../outputs/round.txt', String(${rounds})); await new Promise((r) => setTimeout(r, ${rounds % 4 === 0 ? 700 : 0})); return 1`;
          try {
            await execution(sync, files, attacker, code);
          } catch (error) {
            // A folder replaced mid-sync fails that step cleanly; the watcher never counts the host.
            if (error instanceof SandboxError && error.code === 'quota_exceeded') watcherKills++;
            else if (!(error instanceof SandboxError) && !(error instanceof FileLimitError)) throw error;
          }
        }
      } finally {
        racer.kill('SIGKILL');
      }
      const stored = [...(files.data.get(attacker)?.values() ?? [])].map((content) => content.toString());
      expect(rounds).toBeGreaterThan(5);
      expect(stored.some((c) => c.includes(hostSecret))).toBe(false);
      expect(stored.some((c) => c.includes(victimSecret))).toBe(false);
      // Nor the runtime's own code, which a link to /sandbox/runtime would reach inside bwrap.
      expect(stored.some((c) => c.includes('jsonrpc'))).toBe(false);
      // Nothing outside the attacker's directory changed: not the host files, not the victim's.
      expect(await fingerprint(outside, [attackerDir])).toEqual(beforeOutside);
      expect(watcherKills).toBe(0);
      expect(
        await evaluate(pool, victim, "return require('node:fs').readFileSync('canary.txt', 'utf8')"),
      ).toBe(victimSecret);
    },
    raceMs + 120_000,
  );

  it('a 10,000-deep folder chain fails clearly, is discarded, and the next execution succeeds', async () => {
    const user = newUserId();
    const files = memoryFiles();
    await files.put(user, 'workspace/kept.txt', Buffer.from('stored'), 1e7);
    const sync = createFileSync({ files, quotaBytes: 4 * 1024 * 1024, quotaFiles: 300 });
    // As deep as one path may go from a script (a shell's `cd` loop goes deeper: below).
    const deep = "require('node:fs').mkdirSync('d/'.repeat(1500), { recursive: true }); return 'built'";
    const failure = await execution(sync, files, user, deep).catch((error: unknown) => error);
    // The quota watcher stops the run, or the sync refuses the tree at the end: either way clear.
    expect((failure as { code?: string }).code).toBe('quota_exceeded');
    expect((failure as Error).message).toMatch(/nested more than 64 levels deep/);
    expect([...(files.data.get(user)?.keys() ?? [])]).toEqual(['workspace/kept.txt']);
    // 10,000 levels, made as the sandbox's uid (what `for i in $(seq 10000); do mkdir d; cd d; done`
    // leaves behind at bwrap level), far past PATH_MAX: the next execution still starts clean.
    // The failed run discarded the directory; the next sandbox start makes it again.
    await pool.acquire(user).then((lease) => lease.release());
    const workspace = path.join(pool.userDir(user), 'workspace');
    execFileSync(
      process.execPath,
      [
        '-e',
        "const fs=require('fs');process.chdir(process.argv[1]);for(let i=0;i<10000;i++){try{fs.mkdirSync('d')}catch{};process.chdir('d')}fs.writeFileSync('bottom.txt','deep')",
        workspace,
      ],
      { cwd: '/', ...sandboxUidOf(workspace) },
    );
    const next = await execution(sync, files, user, "return require('node:fs').readdirSync('.')");
    expect(next.run.result).toEqual(['kept.txt']);
    expect(next.changes).toEqual([]);
    expect(await fs.readdir(workspace)).toEqual(['kept.txt']);
  }, 180_000);

  it('more files than the file quota fail clearly; nothing is stored; the next execution succeeds', async () => {
    const user = newUserId();
    const files = memoryFiles();
    const sync = createFileSync({ files, quotaBytes: 4 * 1024 * 1024, quotaFiles: 300 });
    const many = `const fs = require('node:fs'); fs.mkdirSync('many');
      for (let i = 0; i < 1000; i++) fs.writeFileSync('many/f' + i, 'x'); return 'made'`;
    const failure = await execution(sync, files, user, many).catch((error: unknown) => error);
    // The quota watcher stops the run, or the sync refuses the tree at the end: either way clear.
    expect((failure as { code?: string }).code).toBe('quota_exceeded');
    expect((failure as Error).message).toMatch(/more than 300 files/);
    expect(files.data.get(user)?.size ?? 0).toBe(0);
    const next = await execution(sync, files, user, "return require('node:fs').readdirSync('.')");
    expect(next.run.result).toEqual([]);
  }, 120_000);

  it('a path longer than the platform allows fails clearly; the next execution succeeds', async () => {
    const user = newUserId();
    const files = memoryFiles();
    await files.put(user, 'outputs/ok.txt', Buffer.from('ok'), 1e7);
    const sync = createFileSync({ files, quotaBytes: 4 * 1024 * 1024, quotaFiles: 300 });
    const long = `const fs = require('node:fs'); const name = 'n'.repeat(250); let p = name;
      for (let i = 0; i < 5; i++) { fs.mkdirSync(p); p += '/' + name; } fs.writeFileSync(p, 'long'); return p.length`;
    const failure = await execution(sync, files, user, long).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FileLimitError);
    expect((failure as Error).message).toMatch(/longer than 1024/);
    const next = await execution(sync, files, user, "return require('node:fs').readdirSync('../outputs')");
    expect(next.run.result).toEqual(['ok.txt']);
  }, 120_000);

  it('a reset discards the local copy and ends the sandbox process; stored files stay', async () => {
    const user = newUserId();
    const files = memoryFiles();
    await files.put(user, 'uploads/in.csv', Buffer.from('a,b'), 1e7);
    let generation = 0;
    const sync = createFileSync({
      files,
      quotaBytes: 4 * 1024 * 1024,
      quotaFiles: 300,
      resetGeneration: async () => generation,
    });
    // Something the sync never touches (not a regular file) and a process the run left behind.
    await execution(sync, files, user, "require('node:fs').mkdirSync('junk-folder'); return 1");
    const pidBefore = pool.processIdOf(user);
    expect(pidBefore).toBeDefined();
    generation++;
    const after = await execution(sync, files, user, "return require('node:fs').readdirSync('.')");
    expect(after.run.result).toEqual([]);
    expect(pool.processIdOf(user)).not.toBe(pidBefore);
    expect(
      (await runIn(pool, user, "return require('node:fs').readFileSync('../uploads/in.csv', 'utf8')")).result
        .result,
    ).toBe('a,b');
  }, 120_000);
});
