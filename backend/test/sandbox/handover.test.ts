import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindSpareDirectory } from '../../src/sandbox/handover.js';
import { userFolders } from '../../src/sandbox/workspace.js';

/** A spare's directory as the launcher leaves it: the three empty folders. */
async function spareDirectory(dir: string): Promise<number> {
  await fs.mkdir(dir, { mode: 0o700 });
  for (const folder of userFolders) await fs.mkdir(path.join(dir, folder), { mode: 0o700 });
  return (await fs.stat(dir)).ino;
}

describe('bindSpareDirectory', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ipa-handover-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("gives a user without a directory the spare's own", async () => {
    const spare = path.join(root, 'spare');
    const inode = await spareDirectory(spare);
    const user = path.join(root, 'user');
    await bindSpareDirectory(spare, user, undefined);
    expect((await fs.stat(user)).ino).toBe(inode);
    expect((await fs.readdir(user)).sort()).toEqual([...userFolders].sort());
    await expect(fs.lstat(spare)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("moves an existing user's entries into the spare's directory, which takes the user's name", async () => {
    const spare = path.join(root, 'spare');
    const inode = await spareDirectory(spare);
    const user = path.join(root, 'user');
    await fs.mkdir(path.join(user, 'workspace', 'deep'), { recursive: true });
    await fs.writeFile(path.join(user, 'workspace', 'deep', 'a.txt'), 'kept');
    await fs.mkdir(path.join(user, 'outputs'));
    await fs.writeFile(path.join(user, 'top-level.txt'), 'also kept');
    await fs.symlink('/etc', path.join(user, 'uploads'));
    await bindSpareDirectory(spare, user, undefined);
    // The spare's namespace mounted the spare's directory: the user's files must be in that inode.
    expect((await fs.stat(user)).ino).toBe(inode);
    expect(await fs.readFile(path.join(user, 'workspace', 'deep', 'a.txt'), 'utf8')).toBe('kept');
    expect(await fs.readFile(path.join(user, 'top-level.txt'), 'utf8')).toBe('also kept');
    // A folder user code replaced by a link stays the link, as at any start.
    expect((await fs.lstat(path.join(user, 'uploads'))).isSymbolicLink()).toBe(true);
    expect((await fs.lstat(path.join(user, 'outputs'))).isDirectory()).toBe(true);
    await expect(fs.lstat(spare)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // A few entries move with blocking calls, many without (the event loop stays free).
  it.each([3, 80])(
    "puts everything back in the user's directory when a move fails (%i other entries)",
    async (others) => {
      const spare = path.join(root, 'spare');
      await spareDirectory(spare);
      // An entry the spare holds under a name the user also has, both non-empty: that rename fails.
      await fs.mkdir(path.join(spare, 'clash'));
      await fs.writeFile(path.join(spare, 'clash', 'x'), 'spare');
      const user = path.join(root, 'user');
      await fs.mkdir(path.join(user, 'workspace'), { recursive: true });
      await fs.writeFile(path.join(user, 'workspace', 'a.txt'), 'kept');
      await fs.mkdir(path.join(user, 'clash'));
      await fs.writeFile(path.join(user, 'clash', 'y'), 'user');
      const names = Array.from({ length: others }, (_, i) => `entry-${i}`);
      for (const name of names) await fs.writeFile(path.join(user, name), name);
      await expect(bindSpareDirectory(spare, user, undefined)).rejects.toThrow();
      expect((await fs.readdir(user)).sort()).toEqual([...names, 'clash', 'workspace'].sort());
      expect(await fs.readFile(path.join(user, 'workspace', 'a.txt'), 'utf8')).toBe('kept');
      expect(await fs.readFile(path.join(user, 'clash', 'y'), 'utf8')).toBe('user');
    },
  );

  it("moves many entries of a user's directory, with the spare's inode kept", async () => {
    const spare = path.join(root, 'spare');
    const inode = await spareDirectory(spare);
    const user = path.join(root, 'user');
    await fs.mkdir(user);
    const names = Array.from({ length: 80 }, (_, i) => `entry-${i}`);
    for (const name of names) await fs.writeFile(path.join(user, name), name);
    await bindSpareDirectory(spare, user, undefined);
    expect((await fs.stat(user)).ino).toBe(inode);
    expect((await fs.readdir(user)).sort()).toEqual([...names, ...userFolders].sort());
  });

  it('refuses a user path that is not a directory', async () => {
    const spare = path.join(root, 'spare');
    await spareDirectory(spare);
    const user = path.join(root, 'user');
    await fs.symlink(root, user);
    await expect(bindSpareDirectory(spare, user, undefined)).rejects.toThrow(/not a directory/);
    expect((await fs.lstat(spare)).isDirectory()).toBe(true);
  });
});
