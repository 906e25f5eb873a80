import { decodeTimeCursor, pageLimit, toPage } from '../pagination.js';
import { isUuid, jsonParam, requireUuid, terminalStatusList, toIso, toNumber } from '../sql.js';
import {
  ConcurrencyLimitError,
  type Execution,
  type ExecutionKind,
  type ExecutionRepository,
  type ExecutionStatus,
  type NewExecution,
  type Queryable,
  runTriggers,
  terminalStatuses,
  type UnfinishedExecution,
} from '../types.js';
import {
  type ExecutionRow,
  executionColumns,
  qualifiedExecutionColumns,
  toExecution,
} from './execution-rows.js';

const kinds: readonly ExecutionKind[] = ['script', 'agent'];
/**
 * First key of the per-user advisory lock taken by an admission ("ipaa"), apart from the files'
 * lock so a submission never waits behind a file write of the same user.
 */
const admissionLockNamespace = 0x6970_6161;
/** First key of the per-execution lock a reconciler holds while it re-queues one ("ipar"). */
const recoveryLockNamespace = 0x6970_6172;
const statuses: readonly ExecutionStatus[] = ['queued', 'running', ...terminalStatuses];

/** Queued + running executions of a user, counted on the partial index of active rows. */
async function countActiveOf(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM executions WHERE user_id = $1 AND status IN ('queued', 'running')",
    [userId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Inserts an execution; with `maxActive`, only while the user has fewer queued or running ones.
 * Admission and insert are one statement (one round trip): `ipa_admission` takes the per-user
 * admission lock and counts under a fresh snapshot, and the lock holds until the statement's (or
 * the caller's) transaction commits the row, so concurrent submissions, on any replica, never pass
 * the limit together.
 */
async function insertExecution(
  db: Queryable,
  userId: string,
  sessionId: string | null,
  input: Pick<NewExecution, 'kind' | 'input' | 'origin' | 'skipped'>,
  maxActive?: number,
): Promise<Execution> {
  const { origin } = input;
  const skipped = input.skipped ?? null;
  const limited = maxActive !== undefined;
  // The foreign keys only say the session and automation exist; they must also be this user's.
  const { rows } = await db.query<ExecutionRow & { admission_active: number | null }>(
    `WITH admission AS MATERIALIZED (
       SELECT CASE WHEN $11::int IS NULL THEN NULL ELSE ipa_admission($12::int, $1::uuid::text) END AS active
     ), inserted AS (
       INSERT INTO executions (user_id, session_id, kind, input, automation_id, automation_version, trigger,
                               trigger_id, scheduled_for, status, error, finished_at)
       SELECT $1::uuid, $2::uuid, $3, $4::jsonb, $5::uuid, $6::int, $7, $8::uuid, $9::timestamptz,
              CASE WHEN $10::jsonb IS NULL THEN 'queued' ELSE 'skipped' END, $10::jsonb,
              CASE WHEN $10::jsonb IS NULL THEN NULL ELSE now() END
         FROM admission
        WHERE ($11::int IS NULL OR admission.active < $11::int)
          AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = $2::uuid AND user_id = $1::uuid))
          AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM automations WHERE id = $5::uuid AND user_id = $1::uuid))
       RETURNING ${executionColumns}
     )
     SELECT admission.active AS admission_active, inserted.* FROM admission LEFT JOIN inserted ON true`,
    [
      userId,
      sessionId,
      input.kind,
      jsonParam(input.input),
      origin?.automationId ?? null,
      origin?.automationVersion ?? null,
      origin?.trigger ?? null,
      origin?.triggerId ?? null,
      origin?.scheduledFor ?? null,
      jsonParam(skipped),
      limited ? maxActive : null,
      admissionLockNamespace,
    ],
  );
  const row = rows[0];
  if (row && limited && row.id === null && toNumber(row.admission_active) >= maxActive)
    throw new ConcurrencyLimitError(toNumber(row.admission_active), maxActive);
  if (!row || row.id === null) throw new Error('the session or automation does not exist for this user');
  return toExecution(row);
}

export function createExecutionRepository(db: Queryable): ExecutionRepository {
  const get = async (id: string, userId?: string): Promise<Execution | null> => {
    if (!isUuid(id) || (userId !== undefined && !isUuid(userId))) return null;
    const { rows } =
      userId === undefined
        ? await db.query<ExecutionRow>(`SELECT ${executionColumns} FROM executions WHERE id = $1`, [id])
        : await db.query<ExecutionRow>(
            `SELECT ${executionColumns} FROM executions WHERE id = $1 AND user_id = $2`,
            [id, userId],
          );
    return rows[0] ? toExecution(rows[0]) : null;
  };

  return {
    async create(input, options = {}) {
      if (!kinds.includes(input.kind)) throw new RangeError(`unknown execution kind ${String(input.kind)}`);
      if (typeof input.input !== 'object' || input.input === null) {
        throw new TypeError('execution input must be an object');
      }
      const userId = requireUuid(input.userId, 'userId');
      const sessionId = input.sessionId == null ? null : requireUuid(input.sessionId, 'sessionId');
      const origin = input.origin;
      if (origin) {
        requireUuid(origin.automationId, 'automationId');
        if (origin.triggerId != null) requireUuid(origin.triggerId, 'triggerId');
        if (!runTriggers.includes(origin.trigger))
          throw new RangeError(`unknown trigger ${String(origin.trigger)}`);
      }
      const { maxActive } = options;
      if (maxActive !== undefined && (!Number.isInteger(maxActive) || maxActive < 1))
        throw new RangeError('maxActive must be a whole number ≥ 1');
      return insertExecution(db, userId, sessionId, input, maxActive);
    },

    async countActiveForTrigger(triggerId) {
      if (!isUuid(triggerId)) return 0;
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM executions WHERE trigger_id = $1 AND status IN ('queued', 'running')",
        [triggerId],
      );
      return rows[0]?.n ?? 0;
    },

    get,

    async list(userId, filter = {}) {
      const limit = pageLimit(filter);
      const before = filter.cursor === undefined ? null : decodeTimeCursor(filter.cursor);
      if (!isUuid(userId)) return { items: [], nextCursor: null };
      const params: unknown[] = [userId, limit + 1];
      const where = ['user_id = $1'];
      if (filter.status !== undefined) {
        if (!statuses.includes(filter.status))
          throw new RangeError(`unknown status ${String(filter.status)}`);
        params.push(filter.status);
        where.push(`status = $${params.length}`);
      }
      if (filter.kind !== undefined) {
        if (!kinds.includes(filter.kind)) throw new RangeError(`unknown kind ${String(filter.kind)}`);
        params.push(filter.kind);
        where.push(`kind = $${params.length}`);
      }
      if (filter.sessionId !== undefined) {
        if (!isUuid(filter.sessionId)) return { items: [], nextCursor: null };
        params.push(filter.sessionId);
        where.push(`session_id = $${params.length}`);
      }
      if (filter.automationId !== undefined) {
        if (!isUuid(filter.automationId)) return { items: [], nextCursor: null };
        params.push(filter.automationId);
        where.push(`automation_id = $${params.length}`);
      }
      if (filter.trigger !== undefined) {
        if (!runTriggers.includes(filter.trigger))
          throw new RangeError(`unknown trigger ${String(filter.trigger)}`);
        params.push(filter.trigger);
        where.push(`trigger = $${params.length}`);
      }
      if (before) {
        params.push(before.at, before.id);
        where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      const { rows } = await db.query<ExecutionRow>(
        `SELECT ${executionColumns} FROM executions WHERE ${where.join(' AND ')}
         ORDER BY created_at DESC, id DESC LIMIT $2`,
        params,
      );
      return toPage(rows, limit, toExecution, (row) => [toIso(row.created_at), row.id]);
    },

    async markRunning(id, workerId, attempt) {
      if (!isUuid(id)) return null;
      if (!Number.isInteger(attempt) || attempt < 0)
        throw new RangeError('attempt must be a whole number ≥ 0');
      // started_at keeps the first start, so duration_ms covers every attempt the user waited for.
      const { rows } = await db.query<ExecutionRow>(
        `UPDATE executions
            SET status = 'running', attempt = $3, worker_id = $2,
                started_at = COALESCE(started_at, clock_timestamp())
          WHERE id = $1 AND status IN ('queued', 'running')
          RETURNING ${executionColumns}`,
        [id, workerId, attempt],
      );
      return rows[0] ? toExecution(rows[0]) : null;
    },

    async claim(id, workerId, deliveryAttempt) {
      if (!isUuid(id)) return null;
      if (!Number.isInteger(deliveryAttempt) || deliveryAttempt < 0)
        throw new RangeError('attempt must be a whole number ≥ 0');
      // The SET expressions read the row as locked (so a racing claim gets a higher attempt);
      // `previous` is the attempt as this statement first saw it, like a read before the update.
      const { rows } = await db.query<ExecutionRow & { previous_attempt: number }>(
        `UPDATE executions e
            SET status = 'running', attempt = GREATEST($3::int, e.attempt + 1), worker_id = $2,
                started_at = COALESCE(e.started_at, clock_timestamp())
           FROM (SELECT id, attempt FROM executions WHERE id = $1) previous
          WHERE e.id = $1 AND previous.id = e.id AND e.status IN ('queued', 'running')
          RETURNING ${qualifiedExecutionColumns}, previous.attempt AS previous_attempt`,
        [id, workerId, deliveryAttempt],
      );
      const row = rows[0];
      return row ? { execution: toExecution(row), previousAttempt: row.previous_attempt } : null;
    },

    async finish(id, outcome) {
      if (!terminalStatuses.includes(outcome.status)) {
        throw new RangeError(`finish needs a terminal status, not ${String(outcome.status)}`);
      }
      if (!isUuid(id)) return false;
      // The status guard makes the terminal state write-once even when two workers race.
      const { rowCount } = await db.query(
        `UPDATE executions
            SET status = $2, result = $3::jsonb, error = $4::jsonb, usage = $5::jsonb,
                finished_at = clock_timestamp(),
                duration_ms = CASE WHEN started_at IS NULL THEN NULL
                  ELSE GREATEST(0, round(extract(epoch FROM clock_timestamp() - started_at) * 1000))::bigint END
          WHERE id = $1 AND status NOT IN ${terminalStatusList}`,
        [id, outcome.status, jsonParam(outcome.result), jsonParam(outcome.error), jsonParam(outcome.usage)],
      );
      return rowCount > 0;
    },

    async requestCancel(id, userId) {
      if (!isUuid(id) || !isUuid(userId)) return null;
      // A finished execution is returned unchanged: the caller sees its terminal status.
      const { rows } = await db.query<ExecutionRow>(
        `UPDATE executions SET cancel_requested = cancel_requested OR status NOT IN ${terminalStatusList}
          WHERE id = $1 AND user_id = $2
          RETURNING ${executionColumns}`,
        [id, userId],
      );
      return rows[0] ? toExecution(rows[0]) : null;
    },

    async countActive(userId) {
      if (!isUuid(userId)) return 0;
      return countActiveOf(db, userId);
    },

    async claimRecovery(id) {
      if (!isUuid(id)) return false;
      const { rows } = await db.query<{ claimed: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1::int, hashtext($2::text)) AS claimed',
        [recoveryLockNamespace, id],
      );
      return rows[0]?.claimed === true;
    },

    async cancelRequestedAmong(ids) {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return [];
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM executions WHERE id = ANY($1::uuid[]) AND cancel_requested',
        [valid],
      );
      return rows.map((r) => r.id);
    },

    async unfinished({ olderThanMs, limit: requested, cursor }) {
      if (!Number.isFinite(olderThanMs) || olderThanMs < 0)
        throw new RangeError('olderThanMs must be a number ≥ 0');
      const limit = pageLimit({ limit: requested });
      const after = cursor === undefined ? null : decodeTimeCursor(cursor);
      const { rows } = await db.query<{
        id: string;
        user_id: string;
        kind: ExecutionKind;
        status: 'queued' | 'running';
        created_at: Date;
      }>(
        `SELECT id, user_id, kind, status, created_at FROM executions
          WHERE status IN ('queued', 'running')
            AND created_at <= clock_timestamp() - $1 * interval '1 millisecond'
            AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
          ORDER BY created_at, id
          LIMIT $4`,
        [Math.floor(olderThanMs), after?.at ?? null, after?.id ?? null, limit + 1],
      );
      return toPage(
        rows,
        limit,
        (row): UnfinishedExecution => ({
          id: row.id,
          userId: row.user_id,
          kind: row.kind,
          status: row.status,
          createdAt: toIso(row.created_at),
        }),
        (row) => [toIso(row.created_at), row.id],
      );
    },

    async stats(minutes) {
      const span = Number.isFinite(minutes) ? Math.min(1440, Math.max(1, Math.floor(minutes))) : 60;
      const byStatusRows = await db.query<{ status: ExecutionStatus; n: number }>(
        'SELECT status, count(*)::int AS n FROM executions GROUP BY status',
      );
      const byStatus = Object.fromEntries(statuses.map((s) => [s, 0])) as Record<ExecutionStatus, number>;
      for (const row of byStatusRows.rows) byStatus[row.status] = row.n;
      // Every minute of the window is present (zeros included) so charts need no gap filling.
      // timed_out counts as failed; cancelled is neither.
      // Latency (start to finish) and queue wait (created to started) as the 95th percentile of
      // the executions finished in each minute; null for a minute without any.
      const perMinuteRows = await db.query<{
        minute: Date;
        succeeded: number;
        failed: number;
        p95_duration_ms: number | null;
        p95_wait_ms: number | null;
      }>(
        `SELECT m.minute,
                count(e.id) FILTER (WHERE e.status = 'succeeded')::int AS succeeded,
                count(e.id) FILTER (WHERE e.status IN ('failed', 'timed_out'))::int AS failed,
                percentile_cont(0.95) WITHIN GROUP (
                  ORDER BY extract(epoch FROM (e.finished_at - e.started_at)) * 1000) AS p95_duration_ms,
                percentile_cont(0.95) WITHIN GROUP (
                  ORDER BY extract(epoch FROM (e.started_at - e.created_at)) * 1000) AS p95_wait_ms
           FROM generate_series(
                  date_trunc('minute', clock_timestamp()) - ($1::int - 1) * interval '1 minute',
                  date_trunc('minute', clock_timestamp()),
                  interval '1 minute') AS m(minute)
           LEFT JOIN executions e
             ON e.finished_at >= m.minute AND e.finished_at < m.minute + interval '1 minute'
          GROUP BY m.minute
          ORDER BY m.minute`,
        [span],
      );
      return {
        byStatus,
        perMinute: perMinuteRows.rows.map((row) => ({
          minute: toIso(row.minute),
          succeeded: toNumber(row.succeeded),
          failed: toNumber(row.failed),
          p95DurationMs: row.p95_duration_ms === null ? null : Math.round(toNumber(row.p95_duration_ms)),
          p95QueueWaitMs: row.p95_wait_ms === null ? null : Math.round(toNumber(row.p95_wait_ms)),
        })),
      };
    },
  };
}
