/**
 * Start-up check of a root worker: its sandboxes run under unprivileged uids that own none of
 * the host's folders, so every folder above the sandboxes' root, the runtime and the Node binary
 * must let "others" through (x). A `0700` home or a `mktemp -d` folder above DATA_DIR would
 * otherwise fail every run with a bare "exited with code 1".
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** The first existing folder on the way to `target` that others cannot traverse, if any. */
export async function untraversableAncestor(
  target: string,
): Promise<{ dir: string; mode: number } | undefined> {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  let current: string = path.sep;
  for (let i = 0; i <= parts.length; i++) {
    const stat = await fs.stat(current).catch(() => undefined);
    if (!stat) return undefined; // below here nothing exists yet: the worker creates it
    if (stat.isDirectory() && (stat.mode & 0o001) === 0) return { dir: current, mode: stat.mode & 0o7777 };
    if (i < parts.length) current = path.join(current, parts[i] as string);
  }
  return undefined;
}

/** Throws a message naming the folder and the fix when a sandbox uid could not reach `targets`. */
export async function assertTraversable(
  targets: Array<{ what: string; path: string; setting?: string }>,
): Promise<void> {
  for (const target of targets) {
    const blocked = await untraversableAncestor(target.path);
    if (!blocked) continue;
    const mode = blocked.mode.toString(8).padStart(4, '0');
    const move = target.setting ? ` or set ${target.setting} to a folder outside it` : '';
    throw new Error(
      `the sandboxes cannot reach ${target.what} ${target.path}: the folder ${blocked.dir} (mode ${mode}) is closed to ` +
        `other users, and a root worker runs sandboxes under unprivileged uids. ` +
        `Fix: chmod o+x ${blocked.dir}${move}`,
    );
  }
}
