import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { PGlite, type Results } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './types.js';

function toResult<Row>(result: Results<Row>): QueryResult<Row> {
  return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
}

/** Thrown instead of deadlocking when code inside a transaction uses the database handle directly. */
class ReentrantTransactionError extends Error {
  constructor() {
    super(
      'the embedded database has one connection: inside transaction() use the transaction handle, not the database',
    );
    this.name = 'ReentrantTransactionError';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files held by this process, so a second open here fails instead of taking our own lock over. */
const openHere = new Set<string>();

/**
 * PGlite's files must never be opened by two processes at once (it has no shared memory, the
 * second would corrupt them), so the directory is claimed with a lock file naming the owner's pid.
 * A lock left by a process that no longer runs is taken over.
 */
async function claimDirectory(dir: string): Promise<() => Promise<void>> {
  const lockFile = `${path.resolve(dir)}.lock`;
  if (openHere.has(lockFile))
    throw new Error(`the embedded database in ${dir} is already open in this process`);
  openHere.add(lockFile);
  try {
    await mkdir(path.dirname(lockFile), { recursive: true });
    for (let tries = 0; tries < 2; tries++) {
      try {
        const handle = await open(lockFile, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return async () => {
          await rm(lockFile, { force: true });
          openHere.delete(lockFile);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
        // Our own pid in the file is a leftover too: a restarted container is often pid 1 again.
        if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
          throw new Error(
            `the embedded database in ${dir} is in use by process ${owner}; stop it or use DATABASE_URL ` +
              `(remove ${lockFile} if that process is not the platform)`,
          );
        }
        await rm(lockFile, { force: true });
      }
    }
    throw new Error(`could not claim the embedded database directory ${dir}`);
  } catch (err) {
    openHere.delete(lockFile);
    throw err;
  }
}

/**
 * PGlite: real PostgreSQL compiled to WebAssembly, in this process, with one connection. Its own
 * mutex makes queries wait for a running transaction and transactions queue one after another.
 */
export async function openPglite(options: { dir?: string }): Promise<Database> {
  const release = options.dir === undefined ? async () => {} : await claimDirectory(options.dir);
  let pglite: PGlite;
  try {
    const dir = options.dir === undefined ? undefined : path.resolve(options.dir);
    if (dir !== undefined) await mkdir(dir, { recursive: true });
    pglite = dir === undefined ? new PGlite() : new PGlite(dir);
    await pglite.waitReady;
  } catch (err) {
    await release();
    throw err;
  }
  // Marks the async context of a running transaction so a stray direct call fails fast. The mark
  // is cleared when the transaction ends: timers started inside it may use the database later.
  const transactionContext = new AsyncLocalStorage<{ running: boolean }>();
  const insideTransaction = () => transactionContext.getStore()?.running === true;
  let closed: Promise<void> | undefined;

  return {
    kind: 'pglite',

    async query<Row>(sql: string, params?: readonly unknown[]) {
      if (insideTransaction()) throw new ReentrantTransactionError();
      return toResult(await pglite.query<Row>(sql, params as unknown[] | undefined));
    },

    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      if (insideTransaction()) throw new ReentrantTransactionError();
      return pglite.transaction(async (handle) => {
        const mark = { running: true };
        try {
          return await transactionContext.run(mark, () =>
            work({
              async query<Row>(sql: string, params?: readonly unknown[]) {
                return toResult(await handle.query<Row>(sql, params as unknown[] | undefined));
              },
            }),
          );
        } finally {
          mark.running = false;
        }
      });
    },

    async ping() {
      if (pglite.closed) throw new Error('the embedded database is closed');
      await pglite.query('SELECT 1');
    },

    close() {
      closed ??= (async () => {
        try {
          await pglite.close();
        } finally {
          await release();
        }
      })();
      return closed;
    },
  };
}
