import type { Database } from './types.js';

/**
 * The schema, as an ordered list of migrations kept in TypeScript so they ship inside `dist/`.
 * A migration is never edited once released: a change is a new entry at the end. Statements run
 * one by one (PGlite's extended protocol takes one statement per query) inside one transaction.
 */
export interface Migration {
  readonly id: string;
  readonly statements: readonly string[];
}

const executionStatuses = "('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')";

export const migrations: readonly Migration[] = [
  {
    id: '0001_initial',
    statements: [
      // Timestamps keep millisecond precision so the ISO-8601 strings in records (and cursors
      // built from them) are the exact stored values.
      `CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        is_admin boolean NOT NULL DEFAULT false,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX users_created_idx ON users (created_at, id)',

      `CREATE TABLE api_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) <= 200),
        token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
        prefix text NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        last_used_at timestamptz(3),
        revoked_at timestamptz(3)
      )`,
      'CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at)',

      `CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        title text NOT NULL CHECK (length(title) <= 500),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC, id DESC)',

      // An execution outlives its session (usage and audit history): the link is cleared instead.
      `CREATE TABLE executions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
        kind text NOT NULL CHECK (kind IN ('script', 'agent')),
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ${executionStatuses}),
        input jsonb NOT NULL,
        result jsonb,
        error jsonb,
        usage jsonb,
        attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        worker_id text,
        cancel_requested boolean NOT NULL DEFAULT false,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        started_at timestamptz(3),
        finished_at timestamptz(3),
        duration_ms bigint
      )`,
      'CREATE INDEX executions_user_created_idx ON executions (user_id, created_at DESC, id DESC)',
      'CREATE INDEX executions_status_idx ON executions (status)',
      "CREATE INDEX executions_active_idx ON executions (user_id) WHERE status IN ('queued', 'running')",
      'CREATE INDEX executions_session_idx ON executions (session_id) WHERE session_id IS NOT NULL',
      'CREATE INDEX executions_finished_idx ON executions (finished_at) WHERE finished_at IS NOT NULL',

      // seq keeps the exact order of a conversation even for messages written in one millisecond.
      `CREATE TABLE messages (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        execution_id uuid REFERENCES executions (id) ON DELETE SET NULL,
        role text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
        parts jsonb NOT NULL CHECK (jsonb_typeof(parts) = 'array'),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX messages_session_seq_idx ON messages (session_id, seq)',
      'CREATE INDEX messages_execution_idx ON messages (execution_id) WHERE execution_id IS NOT NULL',

      // Byte order ("C") makes listing by path and prefix ranges independent of the server locale.
      `CREATE TABLE files (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        path text COLLATE "C" NOT NULL CHECK (length(path) BETWEEN 1 AND 1024),
        size bigint NOT NULL CHECK (size >= 0),
        sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        content bytea NOT NULL,
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, path)
      )`,

      `CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
        action text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
        target text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC)',
    ],
  },
  {
    // Browser sign-in tokens end on the server too, not only in the cookie jar; tokens without an
    // expiry (API tokens) are unchanged.
    id: '0002_token_expiry',
    statements: [
      'ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz(3)',
      'CREATE INDEX api_tokens_expiring_idx ON api_tokens (user_id, expires_at) WHERE expires_at IS NOT NULL',
    ],
  },
  {
    // Browser sign-ins are told apart from API tokens (listed separately, with the device they
    // came from); the sign-ins made before this migration are recognised by their generated name.
    id: '0007_signins',
    statements: [
      "ALTER TABLE api_tokens ADD COLUMN kind text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'signin'))",
      'ALTER TABLE api_tokens ADD COLUMN device text',
      "UPDATE api_tokens SET kind = 'signin' WHERE expires_at IS NOT NULL AND name LIKE 'browser session %'",
    ],
  },
];

/**
 * Key of the transaction-scoped advisory lock that serialises concurrent `migrate` runs (several
 * API replicas starting at once). Any fixed number works; this one spells "ipa-migr".
 */
const migrationLockKey = 0x6970_612d_6d69_6772n;

/**
 * Applies the pending migrations in order, all in one transaction, and returns their ids. Safe to
 * call from several processes at once: the advisory lock makes the later callers wait and then
 * find nothing left to do.
 */
export async function migrate(db: Database): Promise<{ applied: string[] }> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey.toString()]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        id text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const done = await tx.query<{ id: string }>('SELECT id FROM schema_migrations');
    const doneIds = new Set(done.rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (doneIds.has(migration.id)) continue;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      applied.push(migration.id);
    }
    return { applied };
  });
}

/** Whether every known migration has been applied; `ipa migrate` and readiness use it. */
export async function schemaStatus(db: Database): Promise<{ current: boolean; pending: string[] }> {
  const table = await db.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  let doneIds = new Set<string>();
  if (table.rows[0]?.present) {
    const done = await db.query<{ id: string }>('SELECT id FROM schema_migrations');
    doneIds = new Set(done.rows.map((row) => row.id));
  }
  const pending = migrations.filter((m) => !doneIds.has(m.id)).map((m) => m.id);
  return { current: pending.length === 0, pending };
}
