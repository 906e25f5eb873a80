import type { EventLog } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import type { ExecutionQueue } from '../queue/types.js';
import { type Store, terminalStatuses } from '../store/types.js';

export interface ReconcilerOptions {
  store: Store;
  queue: ExecutionQueue;
  events: EventLog;
  logger: Logger;
  /** Rows younger than this are left alone: their API may still be enqueueing them. */
  olderThanMs: number;
  /** Rows checked per pass. */
  batch?: number;
}

export interface ReconcilePass {
  checked: number;
  /** Executions whose job was missing or finished and that were queued again. */
  requeued: number;
  /** Whether more unfinished rows follow this page (the next pass continues there). */
  more: boolean;
}

export interface QueueReconciler {
  pass(): Promise<ReconcilePass>;
}

/**
 * Finds unfinished executions the queue will never deliver and queues them again. A submission is
 * row → `execution.queued` → job; an API killed after the row leaves a `queued` row with no job,
 * which would hold one of the user's concurrency slots forever. A job can also end while its row
 * does not (dropped, or failed after every retry). Each pass pages through queued and running rows
 * older than `olderThanMs` (oldest first, continuing where the last pass stopped and starting over
 * at the end), asks the queue where each one's job is, and revives the missing or finished ones.
 * Reviving a job is idempotent (job id = execution id, one atomic move); the announcement is not,
 * so each row is handled under a per-execution try-lock in the database (a second reconciler at
 * the same row skips it). Every worker runs it on its own and no leader is needed.
 */
export function createQueueReconciler(options: ReconcilerOptions): QueueReconciler {
  const { store, queue, events, logger, olderThanMs } = options;
  const batch = options.batch ?? 100;
  let cursor: string | undefined;

  return {
    async pass() {
      const page = await store.executions.unfinished({ olderThanMs, limit: batch, cursor });
      cursor = page.nextCursor ?? undefined;
      let requeued = 0;
      for (const row of page.items) {
        if ((await queue.jobState(row.id)) === 'live') continue;
        // Another worker's reconciler may be at the same row: one of them re-queues it, so the
        // stream is announced once.
        const found = await store.transaction(async (tx) => {
          if (!(await tx.executions.claimRecovery(row.id))) return 'live' as const;
          // It may have ended between the page and the lookup (its job just completed).
          const current = await tx.executions.get(row.id);
          if (!current || terminalStatuses.includes(current.status)) return 'live' as const;
          if ((await queue.jobState(row.id)) === 'live') return 'live' as const;
          // An API killed before its announcement left a stream with no beginning.
          if (current.status === 'queued' && (await events.last(row.id)) === undefined) {
            await events.append(row.id, 'execution.queued', { executionId: row.id, kind: row.kind });
          }
          return queue.revive({ executionId: row.id, userId: row.userId, kind: row.kind });
        });
        if (found === 'live') continue;
        requeued += 1;
        logger.warn(
          { executionId: row.id, status: row.status, job: found },
          'unfinished execution without a live job queued again',
        );
      }
      return { checked: page.items.length, requeued, more: cursor !== undefined };
    },
  };
}
