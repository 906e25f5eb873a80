import type { Logger } from '../observability/logger.js';
import type { ExecutionRepository } from '../store/types.js';
import { ExecutionAbortedError } from './executor.js';
import { every, type Periodic } from './periodic.js';

export interface CancelPollerOptions {
  executions: Pick<ExecutionRepository, 'cancelRequestedAmong'>;
  logger: Logger;
  intervalMs: number;
  /** The attempts this worker is running, by execution id. */
  running: () => ReadonlyMap<string, { controller: AbortController }>;
}

/**
 * Reads the cancel requests of every execution this worker runs, in one query per interval, and
 * aborts those attempts with `cancelled`.
 */
export function startCancelPoller(options: CancelPollerOptions): Periodic {
  const { executions, logger } = options;
  let failing = false;
  return every(
    options.intervalMs,
    async () => {
      const running = options.running();
      if (running.size === 0) return;
      for (const id of await executions.cancelRequestedAmong([...running.keys()])) {
        const attempt = options.running().get(id);
        if (attempt && !attempt.controller.signal.aborted) {
          logger.info({ executionId: id }, 'cancel requested');
          attempt.controller.abort(new ExecutionAbortedError('cancelled'));
        }
      }
      failing = false;
    },
    {
      jitter: 0,
      onError: (error) => {
        if (!failing) logger.warn({ err: error }, 'cancel requests could not be read');
        failing = true;
      },
    },
  );
}
