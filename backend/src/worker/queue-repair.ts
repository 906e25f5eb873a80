import type { Logger } from '../observability/logger.js';
import type { ExecutionQueue } from '../queue/types.js';
import type { ExecutionKind, Queryable } from '../store/types.js';

/**
 * Puts back into the queue every unfinished execution older than `minAgeMs`. PostgreSQL is the
 * record of what must run; the queue in Redis may lose its newest writes when a failover promotes
 * a replica that had not received them yet (replication is asynchronous). Adding a job whose id
 * the queue still holds (waiting, running, finished) does nothing, so this only restores lost
 * jobs, and an execution that already ended is never selected.
 */
export async function repairQueue(db: Queryable, queue: ExecutionQueue, minAgeMs: number): Promise<number> {
  const { rows } = await db.query<{ id: string; user_id: string; kind: ExecutionKind }>(
    `SELECT id, user_id, kind FROM executions
      WHERE status IN ('queued', 'running') AND created_at < now() - make_interval(secs => $1::float8 / 1000)
      ORDER BY created_at, id`,
    [minAgeMs],
  );
  for (const row of rows) await queue.enqueue({ executionId: row.id, userId: row.user_id, kind: row.kind });
  return rows.length;
}

/** Runs `repairQueue` every `intervalMs` off the request path (the timer never keeps the process alive). */
export function startQueueRepair(options: {
  db: Queryable;
  queue: ExecutionQueue;
  intervalMs: number;
  logger: Pick<Logger, 'warn'>;
}): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= repairQueue(options.db, options.queue, options.intervalMs)
      .catch((err: unknown) =>
        options.logger.warn(
          { err: { message: (err as Error).message } },
          'queue repair failed; retried next round',
        ),
      )
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
