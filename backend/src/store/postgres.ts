import pg from 'pg';
import { withTimeout } from '../lib/timeout.js';
import type { Logger } from '../observability/logger.js';
import type { Database, Queryable, QueryResult } from './types.js';

/** How long a new connection may take before the query fails: keeps `ping()` and requests fast when PostgreSQL is down. */
const connectTimeoutMs = 2_000;
const pingTimeoutMs = 3_000;

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  /**
   * Send statements with parameters as named prepared statements (default true): each
   * connection parses and plans a statement once, then only binds and executes it (PostgreSQL's
   * CPU per no-op execution falls by about a third: docs/benchmarks.md). Off behind a pooler that
   * hands one client several server connections without tracking prepared statements
   * (PgBouncer in transaction mode before 1.21, or with `max_prepared_statements = 0`).
   */
  preparedStatements?: boolean;
  logger: Pick<Logger, 'warn'>;
}

/**
 * The platform's SQL texts are constants, but a few are assembled (optional filters): a bound
 * on the names keeps a server connection's prepared statements, which live as long as it does,
 * from growing without limit; texts beyond it go unnamed.
 */
const maxNamedStatements = 500;

/**
 * The server refuses a connection's prepared statement: its plan's result type changed under a
 * migration (`0A000`, "cached plan must not change result type") or it is missing (`26000`).
 * `pool.query` discards a connection after any error; a transaction's connection must be told.
 */
function isStalePreparedStatement(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '0A000' || code === '26000';
}

/** Statement texts → query configs, named when `prepared` (a parameterless text stays simple). */
function statementsFor(prepared: boolean) {
  const names = new Map<string, string>();
  return (sql: string, params: readonly unknown[] | undefined): pg.QueryConfig => {
    const values = params as unknown[] | undefined;
    if (!prepared || values === undefined) return { text: sql, values };
    let name = names.get(sql);
    if (name === undefined && names.size < maxNamedStatements) {
      name = `ipa_${names.size}`;
      names.set(sql, name);
    }
    return { text: sql, values, name };
  };
}

function toResult<Row>(result: pg.QueryResult): QueryResult<Row> {
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
}

/**
 * PostgreSQL through a `pg` pool. A dropped server never crashes the process: idle and checked-out
 * connections report errors to the log, broken connections are discarded, and the pool opens new
 * ones on the next query, so the database recovers by itself when PostgreSQL comes back.
 */
export function openPostgres(options: PostgresOptions): Database {
  const { logger } = options;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'ipa',
  });
  pool.on('error', (err) => {
    logger.warn({ err: { message: err.message } }, 'idle PostgreSQL connection failed; the pool replaces it');
  });
  let closed: Promise<void> | undefined;
  const statement = statementsFor(options.preparedStatements ?? true);

  const query = async <Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> =>
    toResult<Row>(await pool.query(statement(sql, params)));

  return {
    kind: 'postgres',
    query,

    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // Between two statements a checked-out client has no listener of the pool's; without ours a
      // server restart mid-transaction would be an unhandled 'error' event.
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
        logger.warn({ err: { message: err.message } }, 'PostgreSQL connection failed during a transaction');
      };
      client.on('error', onError);
      let finished = false;
      const tx: Queryable = {
        async query<Row>(sql: string, params?: readonly unknown[]) {
          if (finished) throw new Error('transaction is already finished');
          return toResult<Row>(await client.query(statement(sql, params)));
        },
      };
      try {
        await client.query('BEGIN');
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken ??= rollbackErr as Error;
        }
        // A prepared statement the server can no longer use on this connection stays broken there:
        // the connection goes, and the next one prepares the statement afresh.
        if (isStalePreparedStatement(err)) broken ??= err as Error;
        throw err;
      } finally {
        finished = true;
        client.removeListener('error', onError);
        // A connection that failed is destroyed rather than handed to the next caller.
        client.release(broken);
      }
    },

    async ping() {
      await withTimeout(pool.query('SELECT 1'), pingTimeoutMs, 'PostgreSQL');
    },

    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}
