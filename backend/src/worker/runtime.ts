import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { chooseProvider } from '../engine/agent/providers.js';
import type { EventType } from '../events/types.js';
import { baseLanguages } from '../lib/vocabulary.js';
import type { Logger } from '../observability/logger.js';
import type { JobContext, JobHandler, QueueConsumer, WorkerHeartbeat } from '../queue/types.js';
import type { IsolationLevel, PoolFigures, SandboxOrchestrator } from '../sandbox/types.js';
import type { Services } from '../services.js';
import type { Execution, ExecutionKind, FinishedStatus } from '../store/types.js';
import { AttemptStreamLostError, ExecutionHandedBackError } from './attempt-errors.js';
import { startCancelPoller } from './cancel-poller.js';
import {
  abortCodeOf,
  ExecutionAbortedError,
  type ExecutionContext,
  type ExecutionOutcome,
  type Executor,
} from './executor.js';
import type { FileWriteBack } from './file-sync.js';
import { startHeartbeats } from './heartbeat.js';
import { every } from './periodic.js';
import { createQueueReconciler } from './reconciler.js';
import { runExecutor } from './run-executor.js';
import { createSettler, internalError } from './settle.js';

export interface WorkerRuntimeOptions {
  services: Services;
  executors: readonly Executor[];
  /** The worker's sandboxes; its isolation level and pool figures go into heartbeats and metrics. */
  orchestrator?: SandboxOrchestrator;
  workerId?: string;
  /** Intervals; the defaults are the production ones, tests shorten them. */
  timing?: Partial<WorkerTiming>;
}

export interface WorkerTiming {
  heartbeatMs: number;
  heartbeatTtlMs: number;
  cancelPollMs: number;
  /** How long an aborted executor gets to return before the worker settles the attempt without it. */
  abortSettleMs: number;
  /** How long a missing terminal event of a finished execution is awaited before it is appended. */
  terminalGraceMs: number;
  /** Queue reconciler: pass interval and minimum row age (default: from the configuration). */
  reconcileMs?: number;
  reconcileAgeMs?: number;
}

const defaultTiming: WorkerTiming = {
  heartbeatMs: 5_000,
  heartbeatTtlMs: 15_000,
  cancelPollMs: 250,
  abortSettleMs: 500,
  terminalGraceMs: 1_000,
};

export interface WorkerFigures {
  workerId: string;
  startedAt: string;
  concurrency: number;
  running: number;
  draining: boolean;
  isolation: IsolationLevel;
  pool: PoolFigures | null;
  /** Attempts this worker settled, by terminal status. */
  finished: Record<FinishedStatus, number>;
  /** Attempts given back to the queue at shutdown. */
  handedBack: number;
}

export interface WorkerRuntime {
  readonly workerId: string;
  figures(): WorkerFigures;
  /**
   * Stops taking jobs at once, lets running executions finish within `graceMs`, then aborts the
   * rest and hands them back to the queue. Resolves when every attempt has settled.
   */
  stop(graceMs?: number): Promise<void>;
}

interface RunningAttempt {
  execution: Execution;
  attempt: number;
  controller: AbortController;
}

const lifecycleEvents: readonly EventType[] = [
  'execution.queued',
  'execution.started',
  'execution.superseded',
  'execution.completed',
  'execution.failed',
  'execution.cancelled',
];

/**
 * Consumes the execution queue: each job becomes one attempt of an execution, run by the executor
 * of its kind. The runtime owns everything around the executor — status, attempts, the lifecycle
 * events, cancellation, the time limit, metrics — so an execution completes at most once however
 * often its job is delivered (docs/architecture.md, "Worker").
 */
export function startWorkerRuntime(options: WorkerRuntimeOptions): WorkerRuntime {
  const { services, orchestrator } = options;
  const { config, store, events, metrics, queue, workers } = services;
  const timing: WorkerTiming = { ...defaultTiming, ...options.timing };
  const workerId = options.workerId ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const logger: Logger = services.logger.child({ component: 'worker', workerId });
  const executors = new Map<ExecutionKind, Executor>();
  for (const executor of options.executors) executors.set(executor.kind, executor);
  const startedAt = new Date().toISOString();
  // Model keys live with the workers (never the API), so the API learns from here whether chat can answer.
  const modelConfigured = !('error' in chooseProvider(config.model));
  const running = new Map<string, RunningAttempt>();
  const finished: Record<FinishedStatus, number> = { succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 };
  let handedBack = 0;
  let draining = false;
  let stopped: Promise<void> | undefined;

  const figures = (): WorkerFigures => ({
    workerId,
    startedAt,
    concurrency: config.worker.concurrency,
    running: running.size,
    draining,
    isolation: orchestrator?.isolation ?? 'process',
    pool: orchestrator ? orchestrator.figures() : null,
    finished: { ...finished },
    handedBack,
  });

  const heartbeat = (): WorkerHeartbeat => {
    const f = figures();
    const pool: Record<string, number> = {};
    for (const [name, value] of Object.entries(f.pool ?? {}))
      if (typeof value === 'number') pool[name] = value;
    return {
      workerId,
      hostname: os.hostname(),
      pid: process.pid,
      startedAt,
      at: new Date().toISOString(),
      isolation: f.isolation,
      languages: [...(orchestrator?.languages ?? baseLanguages)],
      separateUids: orchestrator?.separateUids === true,
      modelConfigured,
      concurrency: f.concurrency,
      running: f.running,
      draining,
      pool,
    };
  };

  const settler = createSettler({
    services,
    logger,
    terminalGraceMs: timing.terminalGraceMs,
    onFinished: (status) => {
      finished[status] += 1;
    },
  });
  const { settle, normalize } = settler;

  const handle: JobHandler = async (job, jobContext) => {
    // One statement takes the delivery; only a dropped one needs a second look at the row.
    const claimed = await store.executions.claim(job.executionId, workerId, jobContext.attempt);
    if (!claimed) {
      if (!(await store.executions.get(job.executionId))) {
        logger.warn({ executionId: job.executionId }, 'job for an unknown execution dropped');
        return;
      }
      logger.debug({ executionId: job.executionId }, 'duplicate delivery of a finished execution dropped');
      await settler.endStreamOfFinished(job.executionId);
      return;
    }
    // Attempts are counted in the database, so a job handed back or recovered from a dead worker
    // always runs under a higher number than any attempt before it.
    const { execution } = claimed;
    const current = { ...execution, attempt: claimed.previousAttempt };
    const attempt = execution.attempt;
    if (attempt > config.worker.maxAttempts) {
      // Its workers kept dying under it (or draining): the queue would give up on the job next
      // and leave the execution running forever, so it ends here, clearly, instead. The stored
      // attempt counts too, so a job the reconciler revived does not start the count over.
      const log = logger.child({ executionId: current.id, kind: current.kind, attempt });
      if (current.attempt > 0)
        await events.append(current.id, 'execution.superseded', { attempt: current.attempt });
      await settle(
        execution,
        {
          status: 'failed',
          error: {
            code: 'worker_lost',
            message: `the execution was interrupted ${attempt - 1} times (worker stopped or lost); giving up after QUEUE_MAX_ATTEMPTS=${config.worker.maxAttempts}`,
          },
        },
        0,
        log,
      );
      return;
    }
    await runAttempt(execution, attempt, current.attempt, jobContext);
  };

  async function runAttempt(
    execution: Execution,
    attempt: number,
    previousAttempt: number,
    jobContext: JobContext,
  ): Promise<void> {
    const { id, kind } = execution;
    const log = logger.child({ executionId: id, kind, attempt });
    const attemptStart = performance.now();
    metrics.executionsStarted.inc({ kind });
    metrics.queueWait.observe({ kind }, Math.max(0, Date.now() - Date.parse(execution.createdAt)) / 1000);

    const controller = new AbortController();
    const entry: RunningAttempt = { execution, attempt, controller };
    running.set(id, entry);
    const onShutdown = () => controller.abort(new ExecutionAbortedError('shutdown'));
    if (jobContext.signal.aborted) onShutdown();
    else jobContext.signal.addEventListener('abort', onShutdown, { once: true });
    const timer = setTimeout(
      () => controller.abort(new ExecutionAbortedError('timed_out')),
      config.executions.timeoutMs,
    );
    let attemptOver = false;
    // The first append the event log refused during this attempt (see AttemptStreamLostError).
    let streamLost: unknown;
    // The executor's changed files; stored only with the executor's own outcome, dropped otherwise.
    let files: FileWriteBack | undefined;

    try {
      if (previousAttempt > 0) {
        // An earlier attempt was abandoned (worker died or was drained): what it streamed is void.
        await events.append(id, 'execution.superseded', { attempt: previousAttempt });
        if (kind === 'agent') await store.messages.deleteByExecution(id, ['assistant', 'tool']);
      }
      await events.append(id, 'execution.started', { attempt, workerId });
      if (execution.cancelRequested) controller.abort(new ExecutionAbortedError('cancelled'));

      const context: ExecutionContext = {
        execution,
        attempt,
        signal: controller.signal,
        emit: async (type, data) => {
          if (lifecycleEvents.includes(type)) {
            throw new Error(`executors may not emit '${type}': the worker owns lifecycle events`);
          }
          // Late events of an attempt the worker already settled would follow the terminal event.
          if (attemptOver) return;
          try {
            await events.append(id, type, { ...data, attempt });
          } catch (error) {
            streamLost ??= error;
            throw error;
          }
        },
        store,
        events,
        config,
      };

      const executor = executors.get(kind);
      const settled = executor
        ? await runExecutor(executor, context, controller.signal, timing.abortSettleMs, log)
        : undefined;
      if (settled && 'outcome' in settled) files = settled.outcome?.files;
      // The signal decides when it fired first, or when the executor threw because it fired.
      const code =
        settled && (settled.abortedFirst || 'error' in settled) ? abortCodeOf(controller.signal) : undefined;
      attemptOver = true;

      if (code === 'shutdown') {
        handedBack += 1;
        log.info('attempt cut short by shutdown; handed back to the queue');
        throw new ExecutionHandedBackError(id);
      }
      if (streamLost !== undefined && code === undefined) {
        log.warn({ err: streamLost }, 'an event of the attempt was lost; the attempt runs again');
        throw new AttemptStreamLostError(id, streamLost);
      }
      let outcome: ExecutionOutcome;
      if (!executor) {
        outcome = {
          status: 'failed',
          error: {
            code: 'no_executor',
            message: `this worker has no executor for '${kind}' executions`,
          },
        };
      } else if (code === 'cancelled') {
        outcome = { status: 'cancelled' };
      } else if (code === 'timed_out') {
        outcome = { status: 'timed_out' };
      } else if (settled && 'outcome' in settled) {
        outcome = settled.outcome;
      } else {
        outcome = { status: 'failed', error: internalError };
      }
      await settle(execution, normalize(outcome, log), Math.round(performance.now() - attemptStart), log);
    } finally {
      attemptOver = true;
      files?.close(false);
      clearTimeout(timer);
      jobContext.signal.removeEventListener('abort', onShutdown);
      if (running.get(id) === entry) running.delete(id);
    }
  }

  const consumer: QueueConsumer = queue.consume(handle, { concurrency: config.worker.concurrency });
  const heartbeats = startHeartbeats({
    registry: workers,
    metrics,
    orchestrator,
    logger,
    intervalMs: timing.heartbeatMs,
    ttlMs: timing.heartbeatTtlMs,
    beat: heartbeat,
  });
  const cancelPoller = startCancelPoller({
    executions: store.executions,
    logger,
    intervalMs: timing.cancelPollMs,
    running: () => running,
  });
  const reconciler = createQueueReconciler({
    store,
    queue,
    events,
    logger,
    olderThanMs: timing.reconcileAgeMs ?? config.worker.reconcileAgeMs,
  });
  let reconcileFailing = false;
  const reconciling = every(
    timing.reconcileMs ?? config.worker.reconcileIntervalMs,
    async () => {
      await reconciler.pass();
      if (reconcileFailing) logger.info('queue reconciler working again');
      reconcileFailing = false;
    },
    {
      onError: (error) => {
        if (!reconcileFailing) logger.warn({ err: error }, 'queue reconciler pass failed; backing off');
        reconcileFailing = true;
      },
    },
  );
  logger.info(
    { concurrency: config.worker.concurrency, kinds: [...executors.keys()], isolation: figures().isolation },
    'worker started',
  );

  return {
    workerId,
    figures,
    stop(graceMs = config.worker.graceMs) {
      stopped ??= (async () => {
        draining = true;
        logger.info({ graceMs, running: running.size }, 'worker draining');
        await reconciling.stop();
        void heartbeats.publish();
        // The queue aborts what is left when the grace period ends (and then treats the job as
        // handed back, not failed). This backstop, a second later, keeps the promise even if a
        // queue implementation were slow to do so.
        const backstop = setTimeout(() => {
          for (const entry of running.values()) {
            entry.controller.abort(new ExecutionAbortedError('shutdown'));
          }
        }, graceMs + 1_000);
        try {
          await consumer.close(graceMs);
        } finally {
          clearTimeout(backstop);
          await cancelPoller.stop();
          await heartbeats.stop();
          try {
            await workers.remove(workerId);
          } catch (error) {
            logger.warn({ err: error }, 'heartbeat could not be removed');
          }
        }
        logger.info({ handedBack }, 'worker stopped');
      })();
      return stopped;
    },
  };
}
