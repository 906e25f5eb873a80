import { terminalEventOf } from '../events/terminal.js';
import { type EventType, terminalEventTypes } from '../events/types.js';
import { backoffDelay } from '../lib/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Services } from '../services.js';
import {
  type Execution,
  type ExecutionError,
  type FinishedStatus,
  terminalStatuses,
} from '../store/types.js';
import type { ExecutionOutcome } from './executor.js';
import { finishWithFiles } from './finish.js';

export const internalError: ExecutionError = {
  code: 'internal',
  message: 'the execution failed because of an internal error in the worker',
};

export interface SettlerOptions {
  services: Pick<Services, 'store' | 'events' | 'metrics' | 'config'>;
  logger: Logger;
  /** How long a missing terminal event of a finished execution is awaited before it is appended. */
  terminalGraceMs: number;
  /** Told once per attempt that wrote its execution's terminal state. */
  onFinished: (status: FinishedStatus) => void;
}

export interface Settler {
  /** An executor's outcome made valid: a known status, and an error for failed and timed-out ones. */
  normalize(outcome: ExecutionOutcome, log: Logger): ExecutionOutcome;
  /**
   * Persists the terminal state once, with the files the attempt changed, then announces the
   * stored files and appends the one terminal event.
   */
  settle(execution: Execution, outcome: ExecutionOutcome, durationMs: number, log: Logger): Promise<void>;
  /**
   * A finished execution delivered again: its worker may have died between writing the row and
   * appending the terminal event, and then no reader of the stream would ever see its end. After a
   * moment's grace (that worker may be alive and mid-append), the event is appended from the row.
   */
  endStreamOfFinished(id: string): Promise<void>;
}

/** How an attempt ends: the finished row (write-once, with its files), then exactly one terminal event. */
export function createSettler(options: SettlerOptions): Settler {
  const { store, events, metrics, config } = options.services;
  const { logger } = options;

  /** The execution is already terminal in the database; its stream must say so too. */
  async function appendWithRetry(
    id: string,
    type: EventType,
    data: Record<string, unknown>,
    expireSeconds: number,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await events.append(id, type, data, { expireSeconds });
        return;
      } catch (error) {
        if (attempt >= 6) throw error;
        logger.warn({ err: error, executionId: id, attempt }, 'terminal event not appended yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { baseMs: 400 })));
      }
    }
  }

  /** Appends the terminal event of a finished execution and lets its stream expire, in one call. */
  async function endStream(finishedExecution: Execution): Promise<void> {
    const terminal = terminalEventOf(finishedExecution);
    await appendWithRetry(
      finishedExecution.id,
      terminal.type,
      terminal.data,
      config.executions.eventRetentionSeconds,
    );
  }

  return {
    normalize(outcome, log) {
      const statuses: readonly string[] = terminalStatuses;
      if (!outcome || typeof outcome !== 'object' || !statuses.includes(outcome.status)) {
        log.error({ outcome }, 'executor returned an invalid outcome');
        return { status: 'failed', error: internalError };
      }
      if (outcome.status === 'failed' && !outcome.error) {
        return { ...outcome, error: { code: 'failed', message: 'the execution failed' } };
      }
      if (outcome.status === 'timed_out' && !outcome.error) {
        return {
          ...outcome,
          error: {
            code: 'timed_out',
            message: `the execution exceeded its time limit of ${Math.round(config.executions.timeoutMs / 1000)} s`,
          },
        };
      }
      return outcome;
    },

    async settle(execution, outcome, durationMs, log) {
      const { id, kind } = execution;
      const { done, ending, stored } = await finishWithFiles(
        store,
        id,
        {
          status: outcome.status,
          result: outcome.result,
          error:
            outcome.status === 'succeeded' || outcome.status === 'cancelled' ? null : (outcome.error ?? null),
          usage: outcome.usage ?? null,
        },
        outcome.files,
      );
      if (!done) {
        // Another delivery of the same job settled it first: its terminal event is the one.
        log.warn('execution was already finished by another attempt; this attempt leaves no terminal event');
        return;
      }
      const { status } = ending;
      options.onFinished(status);
      metrics.executionsFinished.inc({ kind, status });
      metrics.executionDuration.observe({ kind, status }, durationMs / 1000);
      for (const change of stored) {
        await events
          .append(id, 'file.changed', { ...change, attempt: execution.attempt })
          .catch((error: unknown) => log.warn({ err: error, path: change.path }, 'file.changed event lost'));
      }
      await endStream({ ...execution, ...ending, durationMs });
      log.info({ status, durationMs }, 'execution finished');
    },

    async endStreamOfFinished(id) {
      const ended = async () => {
        const last = await events.last(id);
        return last !== undefined && terminalEventTypes.includes(last.type);
      };
      try {
        if (await ended()) return;
        await new Promise((resolve) => setTimeout(resolve, options.terminalGraceMs));
        if (await ended()) return;
        const row = await store.executions.get(id);
        if (!row || !terminalStatuses.includes(row.status)) return;
        await endStream(row);
        logger.warn(
          { executionId: id, status: row.status },
          'terminal event was missing; appended from the row',
        );
      } catch (error) {
        logger.warn({ err: error, executionId: id }, 'could not check the stream of a finished execution');
      }
    },
  };
}
