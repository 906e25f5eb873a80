/**
 * The worker's quota watcher measures a user's directory from the host while code runs, so it
 * must never follow a link a script swaps in. Every folder is opened with
 * `O_DIRECTORY | O_NOFOLLOW` and the walk continues below `/proc/self/fd/<fd>/`: the name is looked
 * up inside the folder already open, never through a path that could be re-resolved, so a folder
 * replaced by a symlink fails to open (ELOOP) instead of leading the walk elsewhere. Only sizes
 * are read (lstat), and the walk stops at the limits, so its work is bounded at any depth.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

export interface DirectoryUsage {
  bytes: number;
  files: number;
  /** Set when the walk stopped at a limit (bytes and files are then lower bounds). */
  exceeded?: 'files' | 'depth';
}

export async function directoryUsage(
  dir: string,
  limits: { maxFiles: number; maxDepth: number },
): Promise<DirectoryUsage> {
  const usage: DirectoryUsage = { bytes: 0, files: 0 };
  const open = (p: string) => fs.open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch(() => undefined);

  async function walk(folder: fs.FileHandle, depth: number): Promise<void> {
    const base = `/proc/self/fd/${folder.fd}`;
    const entries = await fs.readdir(base, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (usage.exceeded) return;
      if (entry.isDirectory()) {
        if (depth + 1 >= limits.maxDepth) {
          usage.exceeded = 'depth';
          return;
        }
        const child = await open(`${base}/${entry.name}`);
        if (!child) continue; // swapped for a link or removed: not followed
        try {
          await walk(child, depth + 1);
        } finally {
          await child.close();
        }
      } else if (entry.isFile()) {
        const stat = await fs.lstat(`${base}/${entry.name}`).catch(() => undefined);
        if (!stat?.isFile()) continue;
        usage.bytes += stat.size;
        if (++usage.files > limits.maxFiles) usage.exceeded = 'files';
      }
    }
  }

  const root = await open(dir);
  if (!root) return usage;
  try {
    await walk(root, 0);
  } finally {
    await root.close();
  }
  return usage;
}
