import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A temporary directory for platform processes a test starts (their `TMPDIR`). A process the test
 * SIGKILLs cannot remove what it made there (the egress proxy's socket folder, say); the test
 * removes the whole directory instead. Traversable, like a sandbox root's parents, for sandboxes
 * running under a dropped uid.
 */
export async function tempDirForChildren(): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ipa-child-tmp-'));
  await chmod(dir, 0o711);
  return { path: dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
