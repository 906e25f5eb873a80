import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStore,
  type Database,
  migrate,
  openDatabase,
  type Store,
  type User,
} from '../../src/store/index.js';
import type { FileWriteBack } from '../../src/worker/file-sync.js';
import { finishWithFiles } from '../../src/worker/finish.js';

/** A write-back of one file that records how it was closed. */
function writeBack(
  userId: string,
  path: string,
  content: string,
  quotaBytes = 1_000,
): FileWriteBack & {
  closedWith: boolean[];
} {
  const closedWith: boolean[] = [];
  return {
    userId,
    quotaBytes,
    writes: [{ path, content: Buffer.from(content) }],
    deletes: [],
    changes: [{ path, change: 'created', size: content.length }],
    // Closing is idempotent: only the first close counts.
    close: (stored) => void (closedWith.length === 0 && closedWith.push(stored)),
    closedWith,
  };
}

describe('finishing an execution with its files (PGlite)', () => {
  let db: Database;
  let store: Store;
  let user: User;
  const running = async () => {
    const execution = await store.executions.create({
      userId: user.id,
      kind: 'script',
      input: { language: 'javascript', code: '' },
    });
    await store.executions.markRunning(execution.id, 'worker-1', 1);
    return execution.id;
  };
  const succeeded = { status: 'succeeded' as const, result: { n: 1 }, error: null, usage: null };

  beforeAll(async () => {
    db = await openDatabase({ kind: 'pglite' });
    await migrate(db);
    store = createStore(db);
    user = await store.users.create({ name: 'finisher' });
  });
  afterAll(() => db.close());

  it('stores the files and the finished row together and says which changes were stored', async () => {
    const id = await running();
    const files = writeBack(user.id, 'outputs/a.txt', 'hello');
    const result = await finishWithFiles(store, id, succeeded, files);
    expect(result).toEqual({ done: true, ending: succeeded, stored: files.changes });
    expect(files.closedWith).toEqual([true]);
    expect((await store.files.get(user.id, 'outputs/a.txt'))?.content.toString()).toBe('hello');
    expect((await store.executions.get(id))?.status).toBe('succeeded');
  });

  it('announces a write that met a concurrent change as the conflict copy it was stored as', async () => {
    const id = await running();
    await store.files.put(user.id, 'outputs/shared.txt', Buffer.from('theirs'), 1_000);
    const files = {
      ...writeBack(user.id, 'outputs/shared.txt', 'ours'),
      bases: new Map([['outputs/shared.txt', null]]),
    };
    const { stored } = await finishWithFiles(store, id, succeeded, files);
    const copy = `outputs/shared (conflict ${id.slice(-8)}).txt`;
    expect(stored).toEqual([{ path: copy, change: 'created', size: 4 }]);
    expect((await store.files.get(user.id, copy))?.content.toString()).toBe('ours');
    expect((await store.files.get(user.id, 'outputs/shared.txt'))?.content.toString()).toBe('theirs');
  });

  it('keeps apart the conflict copies of executions created together', async () => {
    // Ids made in one millisecond share their leading (time) digits.
    const first = await running();
    const second = await running();
    await store.files.put(user.id, 'outputs/together.txt', Buffer.from('theirs'), 1_000);
    const copies: string[] = [];
    for (const [id, text] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      const files = {
        ...writeBack(user.id, 'outputs/together.txt', text),
        bases: new Map([['outputs/together.txt', null]]),
      };
      const { stored } = await finishWithFiles(store, id, succeeded, files);
      copies.push(stored[0]?.path as string);
      expect((await store.files.get(user.id, stored[0]?.path as string))?.content.toString()).toBe(text);
    }
    // Each copy carries its own execution's tag, not a name moved on from a shared one.
    expect(copies).toEqual([first, second].map((id) => `outputs/together (conflict ${id.slice(-8)}).txt`));
    expect((await store.files.get(user.id, copies[0] as string))?.content.toString()).toBe('first');
  });

  it('stores no file of an attempt that lost the race to another one', async () => {
    const id = await running();
    await store.executions.finish(id, { status: 'succeeded', result: { first: true } });
    const files = writeBack(user.id, 'outputs/late.txt', 'second attempt');
    expect(await finishWithFiles(store, id, succeeded, files)).toMatchObject({ done: false, stored: [] });
    expect(files.closedWith).toEqual([false]);
    expect(await store.files.get(user.id, 'outputs/late.txt')).toBeNull();
    expect((await store.executions.get(id))?.result).toEqual({ first: true });
  });

  it('fails the execution with quota_exceeded and stores none of its files when they do not fit', async () => {
    const id = await running();
    const files = writeBack(user.id, 'outputs/big.txt', 'x'.repeat(50), 20);
    const result = await finishWithFiles(store, id, succeeded, files);
    expect(result.done).toBe(true);
    expect(result.stored).toEqual([]);
    expect(result.ending).toMatchObject({ status: 'failed', result: { n: 1 } });
    expect(result.ending.error?.code).toBe('quota_exceeded');
    expect(result.ending.error?.message).toMatch(/quota is 20 bytes; no file was saved/);
    expect(files.closedWith).toEqual([false]);
    expect(await store.files.get(user.id, 'outputs/big.txt')).toBeNull();
    expect(await store.executions.get(id)).toMatchObject({ status: 'failed', error: result.ending.error });
  });

  it('leaves neither the files nor the row when the database fails between them', async () => {
    const id = await running();
    const files = writeBack(user.id, 'outputs/marker.txt', 'once');
    const failing: Store = {
      ...store,
      transaction: (work) =>
        store.transaction((tx) =>
          work({
            ...tx,
            executions: {
              ...tx.executions,
              finish: async () => {
                throw new Error('connection lost');
              },
            },
          }),
        ),
    };
    await expect(finishWithFiles(failing, id, succeeded, files)).rejects.toThrow('connection lost');
    expect(files.closedWith).toEqual([false]);
    expect(await store.files.get(user.id, 'outputs/marker.txt')).toBeNull();
    expect((await store.executions.get(id))?.status).toBe('running');
  });

  it('finishes a row without a transaction when nothing changed', async () => {
    const id = await running();
    const files: FileWriteBack = { ...writeBack(user.id, 'outputs/x', ''), writes: [], changes: [] };
    const noTransaction: Store = {
      ...store,
      transaction: () => Promise.reject(new Error('no transaction expected')),
    };
    expect(await finishWithFiles(noTransaction, id, succeeded, files)).toMatchObject({ done: true });
  });
});
