/**
 * Handing a user's tree to a sandbox's uid (`adoptTree`, root worker): every entry changes owner,
 * no link is ever followed, also while a process of the tree's uid swaps folders for symlinks to
 * root-owned host paths as fast as it can. Both ways the walk is made: in process (descriptor-
 * relative) and, for trees deeper than its descriptor budget, `chown -R -P -h`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptTree, ensureUserDirectory, entryChangedMidWalk } from '../../src/sandbox/workspace.js';
import { makeRoot, removeRoot } from './support.js';

const asRoot = process.getuid?.() === 0;
const nobody = { uid: 65_534, gid: 65_534 };
const other = { uid: 65_533, gid: 65_533 };

let root: string | undefined;
let racer: ChildProcess | undefined;
afterEach(async () => {
  if (racer && racer.exitCode === null) {
    const exited = new Promise((resolve) => racer?.once('exit', resolve));
    racer.kill('SIGKILL');
    await exited;
  }
  racer = undefined;
  if (root) await removeRoot(root);
  root = undefined;
});

/** Owner uid of every entry under `dir`, links included (not followed): path bytes → uid. */
function owners(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  // Names as bytes: a name that is not UTF-8 must be found, and checked, too.
  const walk = (current: Buffer): void => {
    for (const name of readdirSync(current, { encoding: 'buffer' })) {
      const full = Buffer.concat([current, Buffer.from('/'), name]);
      const stat = lstatSync(full);
      out.set(full.subarray(dir.length).toString('hex'), stat.uid);
      if (stat.isDirectory()) walk(full);
    }
  };
  out.set('.', lstatSync(dir).uid);
  walk(Buffer.from(dir));
  return out;
}

async function outsideTargets(base: string): Promise<{ dir: string; file: string }> {
  const dir = path.join(base, 'outside');
  await fs.mkdir(dir, { mode: 0o755 });
  const file = path.join(dir, 'root-only');
  await fs.writeFile(file, 'root', { mode: 0o600 });
  return { dir, file };
}

const ways = [
  { name: 'in process', options: {} },
  { name: 'chown -R -P -h (deeper than the descriptor budget)', options: { maxOpenDepth: 0 } },
  { name: 'chown -R -P -h (more entries than the budget)', options: { maxEntries: 3 } },
];

describe.runIf(asRoot)('adoptTree', () => {
  for (const way of ways) {
    it(`hands every entry to the owner and changes links as links (${way.name})`, async () => {
      root = await makeRoot();
      const dir = await ensureUserDirectory(root, randomUUID(), nobody);
      const outside = await outsideTargets(path.dirname(root));
      await fs.mkdir(path.join(dir, 'workspace/a/b/c'), { recursive: true });
      await fs.writeFile(path.join(dir, 'workspace/a/b/c/deep.txt'), 'x');
      await fs.writeFile(path.join(dir, 'outputs/report.csv'), 'a,b\n');
      await fs.symlink(outside.dir, path.join(dir, 'workspace/to-dir'));
      await fs.symlink(outside.file, path.join(dir, 'workspace/a/to-file'));
      execFileSync('mkfifo', [path.join(dir, 'uploads/pipe')]);
      await fs.chmod(path.join(dir, 'workspace/a/b'), 0o000);
      // Names that are not UTF-8, as a script makes them (Python: os.mkdir(b'\\xff')).
      const oddFolder = Buffer.concat([Buffer.from(`${dir}/workspace/`), Buffer.from([0xff])]);
      mkdirSync(oddFolder);
      writeFileSync(Buffer.concat([oddFolder, Buffer.from('/inner')]), 'x');
      writeFileSync(Buffer.concat([Buffer.from(`${dir}/outputs/f`), Buffer.from([0xfe])]), 'x');

      await adoptTree(dir, other, way.options);

      const found = owners(dir);
      expect(found.size).toBe(15);
      for (const [entry, uid] of found) expect({ entry, uid }).toEqual({ entry, uid: other.uid });
      expect(lstatSync(outside.dir).uid).toBe(0);
      expect(lstatSync(outside.file).uid).toBe(0);
    });
  }

  it('walks a tree deeper than its descriptor budget with the tool, to the bottom', async () => {
    root = await makeRoot();
    const dir = await ensureUserDirectory(root, randomUUID(), nobody);
    execFileSync(
      process.execPath,
      [
        '-e',
        "const fs=require('fs');process.chdir(process.argv[1]);for(let i=0;i<100;i++){fs.mkdirSync('d');process.chdir('d')}fs.writeFileSync('f','x')",
        path.join(dir, 'workspace'),
      ],
      { cwd: '/', ...nobody },
    );
    await adoptTree(dir, other);
    const uids = new Set(owners(dir).values());
    expect([...uids]).toEqual([other.uid]);
  });

  for (const way of ways) {
    it(`fails, naming no path, when a change is refused (${way.name})`, async () => {
      root = await makeRoot();
      const dir = await ensureUserDirectory(root, randomUUID(), nobody);
      const refused = path.join(dir, 'workspace/immutable');
      await fs.writeFile(refused, 'x');
      execFileSync('chattr', ['+i', refused]);
      try {
        const error = await adoptTree(dir, other, way.options).then(
          () => undefined,
          (thrown: Error) => thrown,
        );
        expect(error?.message).toMatch(/^handing the user's directory to its sandbox failed \(/);
        expect(error?.message).not.toContain(root);
      } finally {
        execFileSync('chattr', ['-i', refused]);
      }
    });
  }

  it('does nothing for a directory that is gone', async () => {
    root = await makeRoot();
    await expect(adoptTree(path.join(root, randomUUID()), other)).resolves.toBeUndefined();
  });

  for (const way of ways) {
    it(`never follows a folder swapped for a symlink mid-walk (${way.name})`, async () => {
      root = await makeRoot();
      const dir = await ensureUserDirectory(root, randomUUID(), nobody);
      const outside = await outsideTargets(path.dirname(root));
      const targets = [outside.dir, outside.file];
      // A process of the tree's uid: each folder is, half of the time, a link to a host path.
      const code = `
        const fs = require('node:fs');
        const [dir, ...targets] = process.argv.slice(1);
        const pause = new Int32Array(new SharedArrayBuffer(4));
        for (;;) {
          targets.forEach((target, i) => {
            const name = dir + '/workspace/swap' + i;
            try { fs.renameSync(name, name + '.real'); } catch {}
            try { fs.symlinkSync(target, name); } catch {}
          });
          Atomics.wait(pause, 0, 0, 1);
          targets.forEach((_, i) => {
            const name = dir + '/workspace/swap' + i;
            try { if (fs.lstatSync(name).isSymbolicLink()) fs.unlinkSync(name); } catch {}
            try { fs.renameSync(name + '.real', name); } catch {}
            try { fs.mkdirSync(name); fs.writeFileSync(name + '/inner.txt', 'inner'); } catch {}
          });
          Atomics.wait(pause, 0, 0, 1);
        }`;
      racer = spawn(process.execPath, ['-e', code, dir, ...targets], { stdio: 'ignore', ...nobody });
      const until = performance.now() + 1500;
      let walks = 0;
      // 1.5 s of racing, and at least 20 walks however slow the machine is.
      while (performance.now() < until || walks < 20) {
        // The same owner again: a link followed even once would hand a host path to the racer.
        await adoptTree(dir, nobody, way.options);
        walks++;
        for (const target of targets) expect(lstatSync(target).uid).toBe(0);
      }
      expect(racer.exitCode).toBeNull();
    });
  }
});

// What `chown -R -P -h` printed while the racer above swapped folders (collected from real runs).
describe('entryChangedMidWalk', () => {
  it('accepts an entry deleted or swapped for a link or file during the walk', () => {
    for (const line of [
      "chown: cannot access '/u/workspace/swap0.real': No such file or directory",
      "/usr/bin/chown: changing ownership of '/u/workspace/swap0': No such file or directory",
      "/usr/bin/chown: cannot read directory '/u/workspace/swap1': Not a directory",
      "chown: cannot read directory '/u/workspace/swap0': Too many levels of symbolic links",
    ])
      expect({ line, accepted: entryChangedMidWalk(line) }).toEqual({ line, accepted: true });
  });
  it('refuses a refused change and a walk that gave up', () => {
    for (const line of [
      "/usr/bin/chown: changing ownership of '/u/workspace/a': Operation not permitted",
      '/usr/bin/chown: fts_read failed: No such file or directory',
      "chown: changing ownership of '/u/a: No such file or directory': Disk quota exceeded",
    ])
      expect({ line, accepted: entryChangedMidWalk(line) }).toEqual({ line, accepted: false });
  });
});
