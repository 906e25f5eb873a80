import type { ExecutionQueue } from '../queue/types.js';
import type { ExecutionKind, Queryable } from '../store/types.js';

/**
 * Enqueues every execution that is not finished. The in-process queue of standalone mode does
 * not survive a restart, but the database does: what was queued, or running when the process
 * stopped, is run again (a running one as its next attempt, its earlier one superseded).
 * Enqueueing is idempotent, so this is safe to call when the queue already holds some of them.
 */
export async function requeueUnfinished(db: Queryable, queue: ExecutionQueue): Promise<number> {
  const { rows } = await db.query<{ id: string; user_id: string; kind: ExecutionKind }>(
    "SELECT id, user_id, kind FROM executions WHERE status IN ('queued', 'running') ORDER BY created_at, id",
  );
  for (const row of rows) await queue.enqueue({ executionId: row.id, userId: row.user_id, kind: row.kind });
  return rows.length;
}
