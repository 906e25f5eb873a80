import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type Database, migrate, openDatabase } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { freshPostgresDatabase } from '../support/services.js';

/**
 * The one-statement paths of an execution (docs/architecture.md, "Round-trip budget"): the claim
 * of a delivery and the files revision a worker compares, on both databases.
 */
const script = { language: 'javascript' as const, code: 'return 0' };

const drivers: [string, () => Promise<{ db: Database; dispose: () => Promise<void> }>][] = [
  [
    'PGlite',
    async () => {
      const db = await openDatabase({ kind: 'pglite' });
      return { db, dispose: () => db.close() };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const fresh = await freshPostgresDatabase();
      const db = await openDatabase({
        kind: 'postgres',
        url: fresh.url,
        poolSize: 2,
        logger: { warn: () => {} },
      });
      return {
        db,
        dispose: async () => {
          await db.close();
          await fresh.drop();
        },
      };
    },
  ],
];

describe.each(drivers)('execution round trips on %s', (_name, open) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const opened = await open();
    dispose = opened.dispose;
    await migrate(opened.db);
    store = createStore(opened.db);
  });

  afterAll(async () => {
    await dispose?.();
  });

  it('claims a delivery in one statement: attempt above both counts, the stored one returned', async () => {
    const user = await store.users.create({ name: 'claims' });
    const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
    const first = await store.executions.claim(execution.id, 'worker-a', 1);
    expect(first?.previousAttempt).toBe(0);
    expect(first?.execution).toMatchObject({ status: 'running', attempt: 1, workerId: 'worker-a' });
    // A re-delivery whose queue counter lags the database still runs under a higher attempt.
    const second = await store.executions.claim(execution.id, 'worker-b', 1);
    expect(second?.previousAttempt).toBe(1);
    expect(second?.execution).toMatchObject({ attempt: 2, workerId: 'worker-b' });
    expect(second?.execution.startedAt).toBe(first?.execution.startedAt);
    expect(await store.executions.finish(execution.id, { status: 'succeeded' })).toBe(true);
    expect(await store.executions.claim(execution.id, 'worker-c', 5)).toBeNull();
    expect(await store.executions.claim('00000000-0000-4000-8000-000000000000', 'w', 1)).toBeNull();
    expect(await store.executions.claim('nope', 'w', 1)).toBeNull();
    await expect(store.executions.claim(execution.id, 'w', -1)).rejects.toThrow(RangeError);
  });

  it('moves the files revision with every change to the stored files, and only then', async () => {
    const user = await store.users.create({ name: 'revisions' });
    const other = await store.users.create({ name: 'bystander' });
    const revision = async () => (await store.users.syncState(user.id)).filesRevision;
    expect(await store.users.syncState(user.id)).toEqual({ generation: 0, filesRevision: 0 });
    await store.files.put(user.id, 'workspace/a.txt', Buffer.from('a'), 1e6);
    const afterPut = await revision();
    expect(afterPut).toBeGreaterThan(0);
    await store.files.put(user.id, 'workspace/a.txt', Buffer.from('b'), 1e6);
    const afterReplace = await revision();
    expect(afterReplace).toBeGreaterThan(afterPut);
    await store.files.apply(
      user.id,
      { writes: [{ path: 'workspace/b.txt', content: Buffer.from('b') }], deletes: ['workspace/a.txt'] },
      1e6,
    );
    const afterApply = await revision();
    expect(afterApply).toBeGreaterThan(afterReplace);
    // Reads and another user's writes leave it alone.
    await store.files.list(user.id);
    await store.files.get(user.id, 'workspace/b.txt');
    await store.files.put(other.id, 'workspace/c.txt', Buffer.from('c'), 1e6);
    expect(await revision()).toBe(afterApply);
    expect(await store.files.delete(user.id, 'workspace/b.txt')).toBe(true);
    expect(await revision()).toBeGreaterThan(afterApply);
    await store.users.resetSandbox(user.id);
    expect((await store.users.syncState(user.id)).generation).toBe(1);
    expect(await store.users.syncState('nope')).toEqual({ generation: 0, filesRevision: 0 });
  });
});
