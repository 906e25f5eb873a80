/**
 * Warm spares (`SANDBOX_WARM_SPARES`): counted against the process limit, refilled off the
 * request path, replaced when one dies, handed over to a new user and to a crash replacement
 * with the user's files intact, and all gone after shutdown. Spares exist at `bwrap` level only.
 */
import fs from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ManagedSandboxOrchestrator } from '../../src/sandbox/index.js';
import { availableLevels, createPool, evaluate, makeRoot, newUserId, removeRoot } from './support.js';

const hasBwrap = (await availableLevels()).includes('bwrap');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let root: string | undefined;
let pool: ManagedSandboxOrchestrator | undefined;

afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  if (root) await removeRoot(root);
  root = undefined;
});

async function start(warmSpares: number, maxProcesses = 4): Promise<ManagedSandboxOrchestrator> {
  root = await makeRoot();
  pool = await createPool(root, 'bwrap', { warmSpares, maxProcesses });
  return pool;
}

const ready = (p: ManagedSandboxOrchestrator) => p.figures().sparesReady;

describe.skipIf(!hasBwrap)('warm spare sandboxes', () => {
  it('count against the process limit', async () => {
    const p = await start(3, 2);
    await expect.poll(() => ready(p)).toBe(2);
    const lease = await p.acquire(newUserId());
    expect(p.figures()).toMatchObject({ live: 1, sparesHandedOut: 1 });
    // Room for one spare beside the user's process, never more.
    await expect.poll(() => ready(p)).toBe(1);
    const f = p.figures();
    expect(f.live + f.sparesReady + f.sparesStarting).toBeLessThanOrEqual(2);
    lease.release();
    // A second user takes the spare, and with the limit reached no new one starts.
    const second = await p.acquire(newUserId());
    expect(p.figures()).toMatchObject({ live: 2, sparesReady: 0, sparesStarting: 0 });
    second.release();
  });

  it('are refilled off the request path and handed to a new user ready to run', async () => {
    const p = await start(1);
    await expect.poll(() => ready(p)).toBe(1);
    const [spare] = p.spareProcessIds();
    const user = newUserId();
    const lease = await p.acquire(user);
    // The acquire returned with the spare's process, before any replacement was ready.
    expect(p.processIdOf(user)).toBe(spare);
    expect(ready(p)).toBe(0);
    lease.release();
    expect(
      await evaluate(p, user, "require('node:fs').writeFileSync('note.txt', 'hi'); return process.cwd()"),
    ).toBe('/sandbox/user/workspace');
    expect(await fs.readFile(`${p.userDir(user)}/workspace/note.txt`, 'utf8')).toBe('hi');
    await expect.poll(() => ready(p)).toBe(1);
    expect(p.spareProcessIds()).not.toContain(spare);
  });

  it('replace a crashed spare', async () => {
    const p = await start(2);
    await expect.poll(() => ready(p)).toBe(2);
    const [victim] = p.spareProcessIds() as [number];
    process.kill(victim, 'SIGKILL');
    await expect.poll(() => p.spareProcessIds().includes(victim)).toBe(false);
    await expect.poll(() => ready(p)).toBe(2);
    expect(await evaluate(p, newUserId(), 'return 1 + 1')).toBe(2);
  });

  it("replace a user's crashed process with the user's files intact", async () => {
    const p = await start(1);
    await expect.poll(() => ready(p)).toBe(1);
    const user = newUserId();
    const lease = await p.acquire(user);
    await lease.write('workspace/kept.txt', 'still here');
    await lease.write('outputs/report.md', '# report');
    await expect.poll(() => ready(p)).toBe(1);
    const [spare] = p.spareProcessIds();
    const crashed = p.processIdOf(user) as number;
    process.kill(crashed, 'SIGKILL');
    // The lease keeps working on the replacement, which is the spare.
    await expect.poll(() => p.processIdOf(user)).toBe(spare);
    expect((await lease.read('workspace/kept.txt')).content).toBe('still here');
    expect((await lease.read('outputs/report.md')).content).toBe('# report');
    const run = await lease.run({
      language: 'javascript',
      code: "return require('node:fs').readFileSync('kept.txt', 'utf8')",
      timeoutMs: 5000,
    });
    expect(run.result).toBe('still here');
    lease.release();
    const f = p.figures();
    expect(f.sparesHandedOut).toBe(2);
    expect(f.crashes).toBe(1);
    if (p.separateUids) expect((await fs.stat(p.userDir(user))).uid).toBe(p.uidOf(user));
  });

  it('leave no process and no directory behind after shutdown', async () => {
    const p = await start(2);
    await expect.poll(() => ready(p)).toBe(2);
    const pids = p.spareProcessIds();
    await p.shutdown();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const left = await fs.readdir(root as string);
    expect(left.filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('remove spare directories a previous worker left', async () => {
    root = await makeRoot();
    await fs.mkdir(`${root}/.spare-left-over/workspace`, { recursive: true });
    pool = await createPool(root, 'bwrap', { warmSpares: 1 });
    await expect.poll(() => ready(pool as ManagedSandboxOrchestrator)).toBe(1);
    expect(await fs.readdir(root)).not.toContain('.spare-left-over');
  });
});

describe('warm spares at process level', () => {
  it('are not started: the permission model grants fixed paths', async () => {
    root = await makeRoot();
    pool = await createPool(root, 'process', { warmSpares: 2 });
    expect(await evaluate(pool, newUserId(), 'return 2')).toBe(2);
    expect(pool.figures()).toMatchObject({ sparesReady: 0, sparesStarting: 0, sparesHandedOut: 0 });
  });
});
