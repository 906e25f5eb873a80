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
const executionStatusesWithSkipped =
  "('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')";

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
    // Submission recovery: the queue reconciler pages through unfinished executions oldest first,
    // so its pass reads only the page it checks, however large the table.
    id: '0003_admission',
    statements: [
      "CREATE INDEX executions_unfinished_idx ON executions (created_at, id) WHERE status IN ('queued', 'running')",
    ],
  },
  {
    // A user's sandbox directories on the workers are caches of their stored files; a reset moves
    // this number, and each worker discards its local copy when it sees it moved.
    id: '0004_sandbox_reset',
    statements: ['ALTER TABLE users ADD COLUMN sandbox_generation integer NOT NULL DEFAULT 0'],
  },
  {
    // Saved automations: every save is an immutable version; schedules and webhook triggers start
    // runs of them, and each run records the version and the trigger that started it.
    id: '0005_automations',
    statements: [
      `CREATE TABLE automations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
        enabled boolean NOT NULL DEFAULT true,
        version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX automations_user_created_idx ON automations (user_id, created_at DESC, id DESC)',
      `CREATE TABLE automation_versions (
        automation_id uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        language text NOT NULL CHECK (language IN ('javascript', 'typescript', 'shell', 'python')),
        code text NOT NULL,
        input_schema jsonb,
        author_id uuid REFERENCES users (id) ON DELETE SET NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (automation_id, version)
      )`,
      // next_fire_at is the one tick the schedule waits for (null: disabled). A replica fires a
      // tick only by moving it on with `UPDATE … WHERE next_fire_at = <the tick>`: one wins.
      `CREATE TABLE automation_schedules (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        automation_id uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
        cron text NOT NULL CHECK (length(cron) BETWEEN 1 AND 200),
        time_zone text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 100),
        input jsonb,
        enabled boolean NOT NULL DEFAULT true,
        overlap text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
        catch_up text NOT NULL DEFAULT 'skip' CHECK (catch_up IN ('skip', 'once')),
        next_fire_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX automation_schedules_automation_idx ON automation_schedules (automation_id, created_at)',
      'CREATE INDEX automation_schedules_due_idx ON automation_schedules (next_fire_at) WHERE next_fire_at IS NOT NULL',
      // The secret is kept as is: verifying an HMAC needs it (it is never sent again after creation).
      `CREATE TABLE webhook_triggers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        automation_id uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        secret text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        rotated_at timestamptz(3)
      )`,
      'CREATE INDEX webhook_triggers_automation_idx ON webhook_triggers (automation_id, created_at)',
      // Signatures seen within their tolerance window: a second delivery of one is a replay.
      `CREATE TABLE webhook_signatures (
        trigger_id uuid NOT NULL REFERENCES webhook_triggers (id) ON DELETE CASCADE,
        signature text NOT NULL,
        expires_at timestamptz(3) NOT NULL,
        PRIMARY KEY (trigger_id, signature)
      )`,
      'CREATE INDEX webhook_signatures_expiry_idx ON webhook_signatures (expires_at)',
      `ALTER TABLE executions
        ADD COLUMN automation_id uuid REFERENCES automations (id) ON DELETE SET NULL,
        ADD COLUMN automation_version integer,
        ADD COLUMN trigger text CHECK (trigger IN ('manual', 'api', 'schedule', 'webhook')),
        ADD COLUMN trigger_id uuid,
        ADD COLUMN scheduled_for timestamptz(3)`,
      // A run that was never admitted (a schedule's tick while the user's limit was full) is kept
      // as `skipped` with the reason, so no tick is lost silently.
      'ALTER TABLE executions DROP CONSTRAINT executions_status_check',
      `ALTER TABLE executions ADD CONSTRAINT executions_status_check CHECK (status IN ${executionStatusesWithSkipped})`,
      'CREATE INDEX executions_automation_idx ON executions (automation_id, created_at DESC, id DESC) WHERE automation_id IS NOT NULL',
      // One run per tick of a schedule, whatever a replica does.
      'CREATE UNIQUE INDEX executions_tick_idx ON executions (trigger_id, scheduled_for) WHERE scheduled_for IS NOT NULL',
      "CREATE INDEX executions_trigger_active_idx ON executions (trigger_id) WHERE trigger_id IS NOT NULL AND status IN ('queued', 'running')",
    ],
  },
  {
    // Egress: user secrets (encrypted values, never readable through the API), the user and
    // automation levels of the egress allowlist, and one row per proxied request.
    id: '0006_egress_secrets',
    statements: [
      `CREATE TABLE user_secrets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
        hosts jsonb NOT NULL CHECK (jsonb_typeof(hosts) = 'array'),
        header_name text CHECK (length(header_name) BETWEEN 1 AND 200),
        header_template text CHECK (length(header_template) BETWEEN 1 AND 1000),
        query_param text CHECK (length(query_param) BETWEEN 1 AND 200),
        key_id text NOT NULL,
        ciphertext text NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (user_id, name),
        CHECK ((header_name IS NOT NULL AND header_template IS NOT NULL AND query_param IS NULL)
          OR (header_name IS NULL AND header_template IS NULL AND query_param IS NOT NULL))
      )`,
      'CREATE INDEX user_secrets_key_idx ON user_secrets (key_id)',
      // NULL rules = this level does not narrow the one above it.
      `CREATE TABLE user_egress (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        rules jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE automation_egress (
        automation_id uuid PRIMARY KEY REFERENCES automations (id) ON DELETE CASCADE,
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        rules jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE egress_requests (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        execution_id uuid REFERENCES executions (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        host text NOT NULL,
        port integer NOT NULL,
        method text NOT NULL,
        status integer,
        bytes_sent bigint NOT NULL DEFAULT 0,
        bytes_received bigint NOT NULL DEFAULT 0,
        duration_ms integer NOT NULL DEFAULT 0,
        outcome text NOT NULL CHECK (outcome IN ('allowed', 'refused', 'failed')),
        reason text,
        at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX egress_requests_execution_idx ON egress_requests (execution_id, at, id)',
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
  {
    // File contents move to the blob store, addressed by SHA-256; a row keeps its content inline
    // only until the background mover has copied it out. Every referenced hash has a `blobs` row
    // (the foreign key), which garbage collection locks before it deletes anything.
    id: '0008_blobs',
    statements: [
      `CREATE TABLE blobs (
        sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size bigint NOT NULL CHECK (size >= 0),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      'INSERT INTO blobs (sha256, size) SELECT sha256, max(size) FROM files GROUP BY sha256',
      'ALTER TABLE files ALTER COLUMN content DROP NOT NULL',
      'ALTER TABLE files ADD CONSTRAINT files_sha256_blob_fk FOREIGN KEY (sha256) REFERENCES blobs (sha256)',
      'CREATE INDEX files_sha256_idx ON files (sha256)',
      'CREATE INDEX files_inline_idx ON files (user_id, path) WHERE content IS NOT NULL',
      // The blob store of BLOB_STORE=postgres (the API and worker default).
      `CREATE TABLE blob_contents (
        sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        content bytea NOT NULL
      )`,
    ],
  },
  {
    // Fewer round trips per execution (docs/architecture.md, "Round-trip budget").
    id: '0009_execution_round_trips',
    statements: [
      // Moved by every change to a user's stored files, so a worker that holds the list of the
      // revision it last saw needs not list them again while nothing changed.
      'ALTER TABLE users ADD COLUMN files_revision bigint NOT NULL DEFAULT 0',
      `CREATE FUNCTION ipa_bump_files_revision() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           UPDATE users SET files_revision = files_revision + 1 WHERE id = OLD.user_id;
         ELSE
           UPDATE users SET files_revision = files_revision + 1 WHERE id = NEW.user_id;
         END IF;
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER files_revision_written AFTER INSERT OR DELETE ON files
         FOR EACH ROW EXECUTE FUNCTION ipa_bump_files_revision()`,
      // Moving a file's content to the blob store (content = NULL) changes nothing a worker holds.
      `CREATE TRIGGER files_revision_changed AFTER UPDATE ON files
         FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path OR OLD.sha256 IS DISTINCT FROM NEW.sha256
                            OR OLD.size IS DISTINCT FROM NEW.size OR OLD.user_id IS DISTINCT FROM NEW.user_id)
         EXECUTE FUNCTION ipa_bump_files_revision()`,
      // An admission in one statement: the per-user lock, then the count. A volatile PL/pgSQL
      // function takes a new snapshot for each statement under READ COMMITTED, so the count sees
      // every admission committed by an earlier holder of the lock (which a plain statement's
      // snapshot, taken before it waited for the lock, would not). The lock is held to the end of
      // the caller's transaction, which inserts the row.
      `CREATE FUNCTION ipa_admission(lock_namespace integer, admitted_user text) RETURNS integer
         LANGUAGE plpgsql VOLATILE AS $$
       DECLARE
         active integer;
       BEGIN
         PERFORM pg_advisory_xact_lock(lock_namespace, hashtext(admitted_user));
         SELECT count(*)::int INTO active FROM executions
          WHERE user_id = admitted_user::uuid AND status IN ('queued', 'running');
         RETURN active;
       END $$`,
    ],
  },
  {
    id: '0010_time_ordered_ids',
    // Lists are ordered by a millisecond timestamp, then by id. With random ids, rows written in one
    // millisecond (an admin's user.create and token.issue, a burst of webhook runs) came back in any
    // order. New ids are UUIDv7 (RFC 9562): the Unix time in milliseconds, then the low 32 bits of
    // one database-wide sequence (nextval is ordered across sessions; a clock with microseconds is
    // not to be had — PGlite's has milliseconds), then 42 random bits. So within a millisecond ids
    // follow the order rows were written, and an id stays hard to guess. The sequence's low bits
    // wrap every 2^32 ids, which matters only to two rows of one millisecond on either side of it.
    statements: [
      'CREATE SEQUENCE ipa_id_order AS bigint',
      `CREATE FUNCTION ipa_time_ordered_uuid() RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
       DECLARE
         bytes bytea := uuid_send(gen_random_uuid());
         millis bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
         n bigint := nextval('ipa_id_order') & 4294967295;
       BEGIN
         bytes := overlay(bytes PLACING substring(int8send(millis) FROM 3) FROM 1 FOR 6);
         bytes := set_byte(bytes, 6, (112 | (n >> 28))::int); -- version 7
         bytes := set_byte(bytes, 7, ((n >> 20) & 255)::int);
         bytes := set_byte(bytes, 8, (128 | ((n >> 14) & 63))::int); -- variant 10
         bytes := set_byte(bytes, 9, ((n >> 6) & 255)::int);
         bytes := set_byte(bytes, 10, (((n & 63) << 2) | (get_byte(bytes, 10) & 3))::int);
         RETURN encode(bytes, 'hex')::uuid;
       END $$`,
      ...[
        'users',
        'api_tokens',
        'sessions',
        'executions',
        'messages',
        'audit_log',
        'automations',
        'automation_schedules',
        'webhook_triggers',
        'user_secrets',
        'egress_requests',
      ].map((table) => `ALTER TABLE ${table} ALTER COLUMN id SET DEFAULT ipa_time_ordered_uuid()`),
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
