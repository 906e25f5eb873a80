import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { withTimeout } from '../../../queue/index.js';
import type { Services } from '../../../services.js';
import type { Execution } from '../../../store/types.js';
import { ApiError, unavailable } from '../../errors.js';
import { redisCallTimeoutMs, redisKnownDown } from '../../redis.js';

export type SubmitExecution = <T>(
  userId: string,
  create: () => Promise<{ execution: Execution; extra: T }>,
) => Promise<{ execution: Execution; extra: T }>;

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Admits a new execution for a user: checks the user's concurrency, runs `create` (which
     * writes the rows), announces `execution.queued` and enqueues it.
     */
    submitExecution: SubmitExecution;
  }
}

/** One user's admission checks run one at a time on this replica, so two quick requests cannot both slip under the limit. */
function createUserLocks() {
  const tails = new Map<string, Promise<void>>();
  return async <T>(userId: string, work: () => Promise<T>): Promise<T> => {
    const previous = tails.get(userId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    tails.set(userId, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (tails.get(userId) === tail) tails.delete(userId);
    }
  };
}

function createSubmitter(services: Services): SubmitExecution {
  const { store, queue, events, metrics, config, logger } = services;
  const withUserLock = createUserLocks();

  return async (userId, create) => {
    // Refused before anything is written when the queue cannot take it anyway.
    if (redisKnownDown(services))
      throw unavailable('The execution queue is unavailable; please try again shortly.');
    const created = await withUserLock(userId, async () => {
      const active = await store.executions.countActive(userId);
      if (active >= config.executions.userConcurrency) {
        throw new ApiError(
          429,
          'too_many_executions',
          `You already have ${active} executions queued or running (the limit is ${config.executions.userConcurrency}); wait for one to finish or cancel one.`,
          { active, limit: config.executions.userConcurrency },
        );
      }
      return create();
    });
    const { execution } = created;
    try {
      // Announced before it is enqueued: a worker may start it at once, and `execution.started`
      // must never precede `execution.queued` in the stream.
      await withTimeout(
        events.append(execution.id, 'execution.queued', { executionId: execution.id, kind: execution.kind }),
        redisCallTimeoutMs,
        'event log',
      );
      await withTimeout(
        queue.enqueue({ executionId: execution.id, userId, kind: execution.kind }),
        redisCallTimeoutMs,
        'execution queue',
      );
    } catch (err) {
      logger.error({ err, executionId: execution.id }, 'could not enqueue an execution');
      const error = { code: 'enqueue_failed', message: 'The execution could not be queued.' };
      // Best effort: the row must not stay `queued` forever with no job behind it.
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
    metrics.executionsCreated.inc({ kind: execution.kind });
    return created;
  };
}

export const submitPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('submitExecution', createSubmitter(app.services));
  },
  { name: 'ipa-submit', dependencies: ['ipa-services'] },
);
