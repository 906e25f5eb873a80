import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { terminalEventOf } from '../events/terminal.js';
import { type EventType, terminalEventTypes } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobContext, JobHandler, QueueConsumer, WorkerHeartbeat } from '../queue/types.js';
import type { IsolationLevel, PoolFigures, SandboxOrchestrator } from '../sandbox/types.js';
import type { Services } from '../services.js';
import {
  type Execution,
  type ExecutionError,
  type ExecutionKind,
  type ExecutionStatus,
  type Queryable,
  terminalStatuses,
} from '../store/types.js';
import {
  abortCodeOf,
  ExecutionAbortedError,
  type ExecutionContext,
  type ExecutionOutcome,
  type Executor,
} from './executor.js';
import type { FileWriteBack } from './file-sync.js';
import { finishWithFiles } from './finish.js';

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
}

const defaultTiming: WorkerTiming = {
  heartbeatMs: 5_000,
  heartbeatTtlMs: 15_000,
  cancelPollMs: 250,
  abortSettleMs: 500,
  terminalGraceMs: 1_000,
};

export type FinishedStatus = Exclude<ExecutionStatus, 'queued' | 'running' | 'skipped'>;

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

/** Thrown to the queue so an attempt cut short by shutdown is delivered again, not completed. */
export class ExecutionHandedBackError extends Error {
  constructor(readonly executionId: string) {
    super(`execution ${executionId} handed back to the queue at worker shutdown`);
    this.name = 'ExecutionHandedBackError';
  }
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

const internalError: ExecutionError = {
  code: 'internal',
  message: 'the execution failed because of an internal error in the worker',
};

/** Sets the sandbox pool and isolation gauges from the orchestrator (called on scrape and heartbeat). */
export function refreshSandboxGauges(metrics: Metrics, orchestrator: SandboxOrchestrator | undefined): void {
  const level = orchestrator?.isolation;
  for (const candidate of ['bwrap', 'process'] as const) {
    metrics.sandboxIsolation.set({ level: candidate }, candidate === level ? 1 : 0);
  }
  if (!orchestrator) return;
  const pool = orchestrator.figures();
  for (const [figure, value] of Object.entries(pool)) {
    if (typeof value === 'number') metrics.sandboxPool.set({ figure }, value);
  }
}

/** Executions among `ids` whose cancel was requested, in one query for the whole worker. */
async function cancelRequestedAmong(db: Queryable, ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM executions WHERE id = ANY($1) AND cancel_requested',
    [ids],
  );
  return rows.map((r) => r.id);
}

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
      languages: [...(orchestrator?.languages ?? ['javascript', 'typescript'])],
      concurrency: f.concurrency,
      running: f.running,
      draining,
      pool,
    };
  };

  let heartbeatFailing = false;
  let heartbeatsOver = false;
  const heartbeatsInFlight = new Set<Promise<void>>();
  const publishHeartbeat = (): Promise<void> => {
    if (heartbeatsOver) return Promise.resolve();
    const publishing = publishOnce().finally(() => heartbeatsInFlight.delete(publishing));
    heartbeatsInFlight.add(publishing);
    return publishing;
  };
  const publishOnce = async (): Promise<void> => {
    refreshSandboxGauges(metrics, orchestrator);
    try {
      await workers.publish(heartbeat(), timing.heartbeatTtlMs);
      if (heartbeatFailing) logger.info('heartbeat published again');
      heartbeatFailing = false;
    } catch (error) {
      if (!heartbeatFailing) logger.warn({ err: error }, 'heartbeat could not be published');
      heartbeatFailing = true;
    }
  };

  let polling = false;
  let pollFailing = false;
  const pollCancels = async (): Promise<void> => {
    if (polling || running.size === 0) return;
    polling = true;
    try {
      for (const id of await cancelRequestedAmong(store.db, [...running.keys()])) {
        const attempt = running.get(id);
        if (attempt && !attempt.controller.signal.aborted) {
          logger.info({ executionId: id }, 'cancel requested');
          attempt.controller.abort(new ExecutionAbortedError('cancelled'));
        }
      }
      pollFailing = false;
    } catch (error) {
      if (!pollFailing) logger.warn({ err: error }, 'cancel requests could not be read');
      pollFailing = true;
    } finally {
      polling = false;
    }
  };

  const handle: JobHandler = async (job, jobContext) => {
    const current = await store.executions.get(job.executionId);
    if (!current) {
      logger.warn({ executionId: job.executionId }, 'job for an unknown execution dropped');
      return;
    }
    // Attempts are counted in the database, so a job handed back or recovered from a dead worker
    // always runs under a higher number than any attempt before it.
    const attempt = Math.max(jobContext.attempt, current.attempt + 1);
    const execution = await store.executions.markRunning(current.id, workerId, attempt);
    if (!execution) {
      logger.debug({ executionId: current.id }, 'duplicate delivery of a finished execution dropped');
      await endStreamOfFinished(current.id);
      return;
    }
    if (jobContext.attempt > config.worker.maxAttempts) {
      // Its workers kept dying under it (or draining): the queue would give up on the job next
      // and leave the execution running forever, so it ends here, clearly, instead.
      const log = logger.child({ executionId: current.id, kind: current.kind, attempt });
      if (current.attempt > 0)
        await events.append(current.id, 'execution.superseded', { attempt: current.attempt });
      await settle(
        execution,
        {
          status: 'failed',
          error: {
            code: 'worker_lost',
            message: `the execution was interrupted ${jobContext.attempt - 1} times (worker stopped or lost); giving up after QUEUE_MAX_ATTEMPTS=${config.worker.maxAttempts}`,
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
          await events.append(id, type, { ...data, attempt });
        },
        store,
        events,
        config,
      };

      const executor = executors.get(kind);
      const settled = executor ? await runExecutor(executor, context, controller.signal, log) : undefined;
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

  type Settled = { abortedFirst: boolean } & ({ outcome: ExecutionOutcome } | { error: unknown });

  /** Runs the executor; once the signal fires it gets `abortSettleMs` to return before it is left behind. */
  async function runExecutor(
    executor: Executor,
    context: ExecutionContext,
    signal: AbortSignal,
    log: Logger,
  ): Promise<Settled> {
    const run = Promise.resolve()
      .then(() => executor.run(context))
      .then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      );
    let onAbort = () => {};
    const aborted = new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    const first = await Promise.race([run, aborted]);
    signal.removeEventListener('abort', onAbort);
    if (first !== 'aborted') {
      if ('error' in first && !signal.aborted) log.error({ err: first.error }, 'executor threw');
      return { abortedFirst: false, ...first };
    }
    let grace: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      run,
      new Promise<undefined>((resolve) => {
        grace = setTimeout(() => resolve(undefined), timing.abortSettleMs);
      }),
    ]);
    clearTimeout(grace);
    if (!late) {
      log.warn('executor did not return after its signal fired; settling without it');
      // Whatever it returns later is not stored, but what it holds (a sandbox lease) is let go.
      void run.then((left) => ('outcome' in left ? left.outcome?.files?.close(false) : undefined));
    }
    return { abortedFirst: true, ...(late ?? { error: signal.reason }) };
  }

  function normalize(outcome: ExecutionOutcome, log: Logger): ExecutionOutcome {
    const statuses: readonly string[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
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
  }

  /**
   * Persists the terminal state once, with the files the attempt changed, then announces the
   * stored files and appends the one terminal event.
   */
  async function settle(
    execution: Execution,
    outcome: ExecutionOutcome,
    durationMs: number,
    log: Logger,
  ): Promise<void> {
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
    finished[status] += 1;
    metrics.executionsFinished.inc({ kind, status });
    metrics.executionDuration.observe({ kind, status }, durationMs / 1000);
    for (const change of stored) {
      await events
        .append(id, 'file.changed', { ...change, attempt: execution.attempt })
        .catch((error: unknown) => log.warn({ err: error, path: change.path }, 'file.changed event lost'));
    }
    await endStream({ ...execution, ...ending, durationMs }, log);
    log.info({ status, durationMs }, 'execution finished');
  }

  /**
   * A finished execution delivered again: its worker may have died between writing the row and
   * appending the terminal event, and then no reader of the stream would ever see its end. After a
   * moment's grace (that worker may be alive and mid-append), the event is appended from the row.
   */
  async function endStreamOfFinished(id: string): Promise<void> {
    const ended = async () => {
      const last = await events.last(id);
      return last !== undefined && terminalEventTypes.includes(last.type);
    };
    try {
      if (await ended()) return;
      await new Promise((resolve) => setTimeout(resolve, timing.terminalGraceMs));
      if (await ended()) return;
      const row = await store.executions.get(id);
      if (!row || !terminalStatuses.includes(row.status)) return;
      await endStream(row, logger.child({ executionId: id }));
      logger.warn(
        { executionId: id, status: row.status },
        'terminal event was missing; appended from the row',
      );
    } catch (error) {
      logger.warn({ err: error, executionId: id }, 'could not check the stream of a finished execution');
    }
  }

  /** Appends the terminal event of a finished execution and lets its stream expire. */
  async function endStream(finishedExecution: Execution, log: Logger): Promise<void> {
    const terminal = terminalEventOf(finishedExecution);
    await appendWithRetry(finishedExecution.id, terminal.type, terminal.data);
    try {
      await events.expire(finishedExecution.id, config.executions.eventRetentionSeconds);
    } catch (error) {
      log.warn({ err: error }, 'event stream expiry could not be scheduled');
    }
  }

  /** The execution is already terminal in the database; its stream must say so too. */
  async function appendWithRetry(id: string, type: EventType, data: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await events.append(id, type, data);
        return;
      } catch (error) {
        if (attempt >= 6) throw error;
        logger.warn({ err: error, executionId: id, attempt }, 'terminal event not appended yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  const consumer: QueueConsumer = queue.consume(handle, { concurrency: config.worker.concurrency });
  const heartbeatTimer = setInterval(() => void publishHeartbeat(), timing.heartbeatMs);
  const pollTimer = setInterval(() => void pollCancels(), timing.cancelPollMs);
  heartbeatTimer.unref();
  pollTimer.unref();
  void publishHeartbeat();
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
        void publishHeartbeat();
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
          clearInterval(heartbeatTimer);
          clearInterval(pollTimer);
          // A heartbeat landing after the removal would list this worker again until its TTL.
          heartbeatsOver = true;
          await Promise.all(heartbeatsInFlight);
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
