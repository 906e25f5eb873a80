import { Mutex } from 'async-mutex';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { withTimeout } from '../../../lib/timeout.js';
import type { Services } from '../../../services.js';
import {
  ConcurrencyLimitError,
  type Execution,
  type NewExecution,
  type Repositories,
} from '../../../store/types.js';
import { ApiError, unavailable } from '../../errors.js';
import { redisCallTimeoutMs, redisKnownDown } from '../../redis.js';

/**
 * Writes a submission's rows inside the admission transaction: `admit` inserts the execution
 * (refused past the user's concurrency limit), `tx` writes anything that goes with it (the chat
 * message), all committed together or not at all.
 */
export type SubmissionRows<T> = (
  tx: Repositories,
  admit: (execution: NewExecution) => Promise<Execution>,
) => Promise<{ execution: Execution; extra: T }>;

/**
 * `create` is either the rows to write (a transaction) or, for an execution alone, the execution:
 * then admission and insert are one statement and no transaction is opened (one round trip).
 */
export interface SubmitExecution {
  <T>(userId: string, create: SubmissionRows<T>): Promise<{ execution: Execution; extra: T }>;
  (userId: string, create: NewExecution): Promise<{ execution: Execution; extra: null }>;
}

/** The points of a submission where a crash leaves something behind; the fault injection stops there. */
export type SubmissionStep = 'after-row' | 'after-event' | 'after-enqueue';

export interface SubmitterOptions {
  /**
   * Called after each step. Only tests set it: it simulates the process dying at that step (a
   * promise that never settles; the real API is killed with SIGKILL, see `TEST_CRASH_SUBMISSION_AT`).
   */
  crashAt?: (step: SubmissionStep) => Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Admits a new execution for a user: writes its rows in one transaction under the database's
     * per-user admission lock, announces `execution.queued` and enqueues it.
     */
    submitExecution: SubmitExecution;
  }
}

/**
 * One user's admissions on this replica wait their turn here, in memory, instead of each holding a
 * pooled connection while it waits for the database's per-user lock: a burst of one user's
 * requests then takes one connection per replica, not the whole pool (which would turn other
 * requests away with 503). The limit itself is enforced by the database, across replicas.
 */
function createUserTurns() {
  const locks = new Map<string, Mutex>();
  return async <T>(userId: string, work: () => Promise<T>): Promise<T> => {
    let lock = locks.get(userId);
    if (!lock) {
      lock = new Mutex();
      locks.set(userId, lock);
    }
    try {
      return await lock.runExclusive(work);
    } finally {
      // A waiting admission takes the lock as it is released, so an unlocked one has no waiters.
      if (!lock.isLocked() && locks.get(userId) === lock) locks.delete(userId);
    }
  };
}

/** `TEST_CRASH_SUBMISSION_AT`: the process dies at that step, as under SIGKILL or OOM. */
function crashFromConfig(services: Services): SubmitterOptions['crashAt'] {
  const at = services.config.testing.crashSubmissionAt;
  if (at === 'off') return undefined;
  services.logger.warn({ at }, 'fault injection on: this API kills itself at every submission');
  return async (step) => {
    if (step !== at) return;
    process.kill(process.pid, 'SIGKILL');
    await new Promise(() => {});
  };
}

/**
 * A crash at any step leaves a committed, `queued` row (nothing before it is written outside the
 * transaction); the worker's queue reconciler enqueues such rows once they are older than
 * `QUEUE_RECONCILE_AGE_MS`, so no submission is left queued forever.
 */
export function createSubmitter(services: Services, options: SubmitterOptions = {}): SubmitExecution {
  const { store, queue, events, metrics, config, logger } = services;
  const crashAt = options.crashAt ?? crashFromConfig(services) ?? (async () => {});
  const limit = config.executions.userConcurrency;
  const inTurn = createUserTurns();

  const admitRows = <T>(userId: string, create: SubmissionRows<T> | NewExecution) =>
    typeof create === 'function'
      ? store.transaction((tx) =>
          create(tx, (execution) => tx.executions.create(execution, { maxActive: limit })),
        )
      : store.executions
          // Always the submitting user's, whatever the caller put in.
          .create({ ...create, userId }, { maxActive: limit })
          .then((execution) => ({ execution, extra: null as T }));

  const submit = async <T>(userId: string, create: SubmissionRows<T> | NewExecution) => {
    // Refused before anything is written when the queue cannot take it anyway.
    if (redisKnownDown(services))
      throw unavailable('The execution queue is unavailable; please try again shortly.');
    let created: { execution: Execution; extra: T };
    try {
      created = await inTurn(userId, () => admitRows<T>(userId, create));
    } catch (err) {
      if (!(err instanceof ConcurrencyLimitError)) throw err;
      throw new ApiError(
        429,
        'too_many_executions',
        `You already have ${err.active} executions queued or running (the limit is ${limit}); wait for one to finish or cancel one.`,
        { active: err.active, limit },
      );
    }
    const { execution } = created;
    await crashAt('after-row');
    try {
      // Announced before it is enqueued: a worker may start it at once, and `execution.started`
      // must never precede `execution.queued` in the stream.
      await withTimeout(
        events.append(execution.id, 'execution.queued', { executionId: execution.id, kind: execution.kind }),
        redisCallTimeoutMs,
        'event log',
      );
      await crashAt('after-event');
      await withTimeout(
        queue.enqueue({ executionId: execution.id, userId, kind: execution.kind }),
        redisCallTimeoutMs,
        'execution queue',
      );
    } catch (err) {
      logger.error({ err, executionId: execution.id }, 'could not enqueue an execution');
      const error = { code: 'enqueue_failed', message: 'The execution could not be queued.' };
      // Best effort: should this fail too, the queue reconciler still runs the row later.
      const finished = await store.executions
        .finish(execution.id, { status: 'failed', error })
        .catch(() => false);
      if (finished) {
        await withTimeout(
          events.append(execution.id, 'execution.failed', { status: 'failed', error, durationMs: 0 }),
          redisCallTimeoutMs,
          'event log',
        ).catch(() => undefined);
      }
      throw unavailable('The execution queue is unavailable; please try again shortly.');
    }
    await crashAt('after-enqueue');
    metrics.executionsCreated.inc({ kind: execution.kind });
    return created;
  };
  return submit as SubmitExecution;
}

export const submitPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('submitExecution', createSubmitter(app.services));
  },
  { name: 'ipa-submit', dependencies: ['ipa-services'] },
);
