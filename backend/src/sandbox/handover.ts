/**
 * Binding a warm spare to a user (bwrap level). The spare's own directory is bind-mounted at
 * `/sandbox/user` in its namespace; a mount follows the directory, not its name, so:
 * - a user without a local directory on this worker gets the spare's (empty) directory renamed to
 *   `<root>/<user-id>`; the file sync then writes the stored files in through the sandbox;
 * - a user with one (a crash replacement, a returning user) has it handed to the spare's uid with
 *   the same link-free walk as any start (`adoptTree`), its entries renamed into the spare's
 *   directory (a rename moves the entry itself and never follows a link) and the spare's directory
 *   renamed into its place.
 * Both directories sit right below the sandboxes' root, which belongs to the worker: no name on
 * either path can be swapped by a sandbox.
 */
import fs from 'node:fs';
import path from 'node:path';
import { callWithLimits } from './calls.js';
import type { SandboxProcess } from './process.js';
import type { Slot } from './slot.js';
import type { Spare } from './spares.js';
import { adoptTree, discardEntry, type SandboxOwner, userFolders } from './workspace.js';

/**
 * Binds `spare` to the slot's user and makes it the slot's process; from now on its exit is the
 * slot's (`onExit`). A spare that cannot be bound is ended and its directory removed, never reused.
 */
export async function handOverSpare(
  slot: Slot,
  spare: Spare,
  options: { root: string; pingTimeoutMs?: number },
  onExit: (proc: SandboxProcess) => void,
): Promise<SandboxProcess | undefined> {
  const { proc, owner, egressKey } = spare.launched;
  spare.onExit = (ended) => {
    if (slot.owner === owner) slot.owner = undefined;
    onExit(ended);
  };
  if (!proc.alive) {
    slot.stopping.add(proc);
    await discardEntry(options.root, spare.name).catch(() => {});
    return undefined;
  }
  try {
    await bindSpareDirectory(spare.dir, slot.dir, owner);
    // The runtime's working folder was the spare's own `workspace/`: it moves into the user's.
    await callWithLimits(proc, 'workspace.enter', {}, {}, { hardTimeoutMs: options.pingTimeoutMs ?? 2000 });
  } catch (error) {
    slot.stopping.add(proc);
    proc.kill();
    await discardEntry(options.root, spare.name).catch(() => {});
    throw error;
  }
  slot.owner = owner;
  slot.proc = proc;
  slot.egressKey = egressKey;
  return proc;
}

export async function bindSpareDirectory(
  spareDir: string,
  userDir: string,
  owner: SandboxOwner | undefined,
): Promise<void> {
  // The fixed steps are metadata calls on the worker's own disk, each microseconds: made
  // synchronously, they skip a thread-pool round trip apiece on a user's path to a replacement
  // sandbox (the crash-recovery time). The user's own entries are as many as user code made, so
  // they are listed and moved without blocking the event loop once they are more than a few.
  const existing = lstatOrUndefined(userDir);
  if (!existing) {
    fs.renameSync(spareDir, userDir);
    return;
  }
  if (!existing.isDirectory()) throw new Error("the user's sandbox directory is not a directory");
  if (owner) await adoptTree(userDir, owner);
  const moved: string[] = [];
  try {
    // The spare's folders are empty: its runtime never ran anything.
    for (const folder of userFolders) fs.rmdirSync(path.join(spareDir, folder));
    const names = await fs.promises.readdir(userDir);
    const rename = names.length <= maxBlockingMoves ? fs.renameSync : fs.promises.rename;
    for (const name of names) {
      await rename(path.join(userDir, name), path.join(spareDir, name));
      moved.push(name);
    }
    for (const folder of userFolders) {
      const made = makeFolder(path.join(spareDir, folder));
      if (made && owner) fs.lchownSync(path.join(spareDir, folder), owner.uid, owner.gid);
    }
    fs.rmdirSync(userDir);
    fs.renameSync(spareDir, userDir);
  } catch (error) {
    // Whatever moved goes back: the user's files stay where the file sync expects them.
    try {
      fs.mkdirSync(userDir, { mode: 0o700 });
    } catch {
      // still there
    }
    for (const name of moved) {
      await fs.promises.rename(path.join(spareDir, name), path.join(userDir, name)).catch(() => {
        // left in the spare's directory, which is discarded with it
      });
    }
    throw error;
  }
}

/** Up to this many of the user's entries are moved with blocking calls (well under a millisecond). */
const maxBlockingMoves = 32;

function lstatOrUndefined(file: string): fs.Stats | undefined {
  return fs.lstatSync(file, { throwIfNoEntry: false });
}

/** A folder user code replaced (by a link, a file) is kept as it is, as at any start. */
function makeFolder(folder: string): boolean {
  try {
    fs.mkdirSync(folder, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}
