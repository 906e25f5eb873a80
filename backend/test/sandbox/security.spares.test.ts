/**
 * Security suite, warm spares: a spare serves one user only. User A's sandbox (a spare at
 * `bwrap` level) leaves a file, a global, a `/tmp` file and its uid behind; user B (the next
 * spare) and user C (a spare started after A's process ended) see none of it and never get A's
 * process. At `process` level no spare is started (docs/security.md) and the same holds.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ManagedSandboxOrchestrator } from '../../src/sandbox/index.js';
import { availableLevels, createPool, evaluate, makeRoot, newUserId, removeRoot } from './support.js';

const levels = await availableLevels();
const secret = 'SECRET-OF-USER-A-4d1f';

describe.each(levels)('warm spares at %s level', (level) => {
  let root: string;
  let pool: ManagedSandboxOrchestrator;

  beforeAll(async () => {
    root = await makeRoot();
    pool = await createPool(root, level, { warmSpares: 2 });
    if (level === 'bwrap')
      await vi.waitFor(() => expect(pool.figures().sparesReady).toBe(2), { timeout: 15_000 });
  });

  afterAll(async () => {
    await pool?.shutdown();
    if (root) await removeRoot(root);
  });

  /** What user code of another user can find of A: every probe must come back empty. */
  const probe = (dirOfA: string) => `
    const fs = require('node:fs');
    const tryRead = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return null; } };
    return {
      global: globalThis.leakOfA ?? null,
      files: fs.readdirSync('.'),
      tmp: tryRead('/tmp/a-secret.txt'),
      hostDir: tryRead(${JSON.stringify(path.join(dirOfA, 'workspace', 'secret.txt'))}),
    };`;

  it('a spare handed to user A and then one handed to user B share nothing', async () => {
    const userA = newUserId();
    const userB = newUserId();
    await evaluate(
      pool,
      userA,
      `const fs = require('node:fs');
       globalThis.leakOfA = ${JSON.stringify(secret)};
       fs.writeFileSync('secret.txt', ${JSON.stringify(secret)});
       try { fs.writeFileSync('/tmp/a-secret.txt', ${JSON.stringify(secret)}); } catch {}
       return true;`,
    );
    const pidA = pool.processIdOf(userA) as number;
    expect(pidA).toBeGreaterThan(0);
    // A's process never goes back to the spares, also not once A released it.
    expect(pool.spareProcessIds()).not.toContain(pidA);

    const b = (await evaluate(pool, userB, probe(pool.userDir(userA)))) as Record<string, unknown>;
    expect(pool.processIdOf(userB)).not.toBe(pidA);
    expect(b).toMatchObject({ global: null, files: [], tmp: null, hostDir: null });
    // Both processes alive: each has a uid of its own (a root worker).
    if (pool.separateUids) expect(pool.uidOf(userB)).not.toBe(pool.uidOf(userA));
    expect(await fs.readdir(path.join(pool.userDir(userB), 'workspace'))).toEqual([]);
    expect(await fs.readFile(path.join(pool.userDir(userA), 'workspace', 'secret.txt'), 'utf8')).toBe(secret);

    // A's process ends and its files go; the spare that serves C next is a fresh process.
    const lease = await pool.acquire(userA);
    await lease.discardFiles();
    lease.release();
    const userC = newUserId();
    const c = (await evaluate(pool, userC, probe(pool.userDir(userA)))) as Record<string, unknown>;
    expect(pool.processIdOf(userC)).not.toBe(pidA);
    expect(c).toMatchObject({ global: null, files: [], tmp: null, hostDir: null });
    expect(pool.spareProcessIds()).not.toContain(pool.processIdOf(userB));
    expect(pool.spareProcessIds()).not.toContain(pool.processIdOf(userC));

    const { sparesHandedOut } = pool.figures();
    if (level === 'bwrap') expect(sparesHandedOut).toBeGreaterThanOrEqual(2);
    else expect(sparesHandedOut).toBe(0);
  });

  it.skipIf(level !== 'bwrap')("a spare's directory is private to it and becomes the user's", async () => {
    await expect.poll(() => pool.figures().sparesReady).toBe(2);
    for (const name of await fs.readdir(root)) {
      if (!name.startsWith('.spare-')) continue;
      const stat = await fs.stat(path.join(root, name));
      expect(stat.mode & 0o077).toBe(0);
    }
    const user = newUserId();
    const probeResult = (await evaluate(pool, user, probe(pool.userDir(newUserId())))) as Record<
      string,
      unknown
    >;
    expect(probeResult).toMatchObject({ files: [], tmp: null });
    if (pool.separateUids) expect((await fs.stat(pool.userDir(user))).uid).toBe(pool.uidOf(user));
  });
});
