import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IsolationLevel } from '../../src/sandbox/index.js';
import { availableLevels, createPool, makeRoot, newUserId, removeRoot } from './support.js';

const levels: IsolationLevel[] = await availableLevels();
const fileBytes = 1000 * 1000;
const exists = (p: string) =>
  fs.lstat(p).then(
    () => true,
    () => false,
  );

describe.each(levels)('the sandbox disk budget at %s level', (level) => {
  let root: string;
  beforeAll(async () => {
    root = await makeRoot();
  });
  afterAll(async () => {
    await removeRoot(root);
  });

  it('removes the least recently used directories past the budget, never one in use', async () => {
    const pool = await createPool(root, level, { diskBudgetBytes: 2.5 * fileBytes });
    try {
      const [a, b, c] = [newUserId(), newUserId(), newUserId()];
      const fill = async (userId: string) => {
        const lease = await pool.acquire(userId);
        await lease.write('workspace/big.txt', 'x'.repeat(fileBytes));
        lease.release();
      };
      await fill(a);
      await fill(b);
      await vi.waitFor(() => expect(pool.figures().diskBytes).toBe(2 * fileBytes));
      expect(pool.figures().diskEvictions).toBe(0);

      // a is the least recently used, but in use: b goes instead.
      const held = await pool.acquire(a);
      await fill(c);
      await vi.waitFor(() => expect(pool.figures().diskEvictions).toBe(1));
      expect(await exists(path.join(root, b))).toBe(false);
      expect(await exists(path.join(root, a, 'workspace', 'big.txt'))).toBe(true);
      expect(await exists(path.join(root, c, 'workspace', 'big.txt'))).toBe(true);
      expect((await held.read('workspace/big.txt')).size).toBe(fileBytes);
      held.release();
      await vi.waitFor(() => expect(pool.figures().diskBytes).toBe(2 * fileBytes));

      // The evicted user simply starts again on a fresh directory.
      const again = await pool.acquire(b);
      expect(await again.list('workspace')).toEqual([]);
      again.release();
    } finally {
      await pool.shutdown();
    }
  });

  it('counts directories found at start and evicts the oldest of them', async () => {
    const first = await createPool(root, level);
    const [old, recent] = [newUserId(), newUserId()];
    for (const userId of [old, recent]) {
      const lease = await first.acquire(userId);
      await lease.write('outputs/data.bin', 'y'.repeat(fileBytes));
      lease.release();
    }
    await first.shutdown();
    const past = new Date(Date.now() - 3600_000);
    await fs.utimes(path.join(root, old), past, past);

    const pool = await createPool(root, level, { diskBudgetBytes: 1.5 * fileBytes });
    try {
      await vi.waitFor(() => expect(pool.figures().diskEvictions).toBeGreaterThanOrEqual(1), {
        timeout: 10_000,
      });
      expect(await exists(path.join(root, old))).toBe(false);
      expect(await exists(path.join(root, recent, 'outputs', 'data.bin'))).toBe(true);
    } finally {
      await pool.shutdown();
    }
  });
});
