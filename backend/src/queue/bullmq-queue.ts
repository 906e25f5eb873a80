import { type JobState as BullmqJobState, DelayedError, Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { ConnectionSetup, recordCopies } from './bullmq-setup.js';
import { closeRedisClient, createRedisClient, pingRedis, type RedisSentinelTarget } from './redis-client.js';
import { RunningJobs } from './running-jobs.js';
import type {
  ConsumerOptions,
  ExecutionJob,
  ExecutionQueue,
  JobHandler,
  JobState,
  QueueConsumer,
  QueueCounts,
} from './types.js';
import { validateConcurrency, validateJob } from './validate.js';

/** The BullMQ queue name. With the platform prefix its wait list is `<prefix>:executions:wait`. */
export const executionQueueName = 'executions';

/** The Redis list of waiting executions: what KEDA's `redis` scaler watches (`listName`). */
export function waitListKey(prefix: string): string {
  return `${prefix}:${executionQueueName}:wait`;
}

export interface BullmqQueueOptions {
  redisUrl: string;
  /** Redis behind Sentinel (REDIS_SENTINELS). */
  sentinel?: RedisSentinelTarget;
  /** Platform key prefix (`REDIS_PREFIX`); used as BullMQ's prefix. */
  prefix: string;
  /**
   * How often workers look for jobs whose worker died, and how long a job's lock lives without
   * renewal. A SIGKILLed worker's job is taken by another after at most twice this.
   */
  stalledIntervalMs: number;
  /** Deliveries per execution through handler failures, and stalls tolerated (`QUEUE_MAX_ATTEMPTS`). */
  maxAttempts: number;
  logger: Logger;
  /** First retry delay after a handler failure; doubles on each further one. Default 1000 ms. */
  backoffMs?: number;
  /** How long an aborted handler gets to settle before its job is handed back anyway. Default 5000 ms. */
  abortSettleMs?: number;
  /** Completed jobs kept (for `counts()` and dedupe): at most this many, for at most a day. Default 1000. */
  keepCompleted?: number;
  /** Failed jobs kept for inspection: at most this many, for at most a week. Default 5000. */
  keepFailed?: number;
}

function stateOfJob(state: BullmqJobState | 'unknown'): JobState {
  if (state === 'unknown') return 'missing';
  return state === 'completed' || state === 'failed' ? 'finished' : 'live';
}

/**
 * `ExecutionQueue` on BullMQ. Guarantees:
 * - the job id is the execution id, so enqueueing an execution that is still known to the queue
 *   (waiting, active, delayed, or kept after finishing) is a no-op;
 * - a handler that throws is retried with exponential backoff (`backoffMs`, doubling) until
 *   `maxAttempts` deliveries have failed; then the job stays failed;
 * - a job whose worker died (lock not renewed for `stalledIntervalMs`) is moved back to waiting by
 *   another worker's stalled check and delivered again with a higher `attempt`, up to
 *   `maxAttempts` times;
 * - `consumer.close(grace)` stops fetching at once, waits up to `grace` for running handlers, then
 *   aborts them and hands their jobs back. Hand-back = `job.moveToDelayed(now)` followed by
 *   throwing BullMQ's `DelayedError`: the job returns to the queue at once without using up an
 *   attempt and without a failed event, and any other consumer takes it (`attempt` + 1).
 *   Re-adding the job instead would lose its attempt history, and failing it would burn a retry.
 * Producer and every consumer use their own connections; BullMQ adds one blocking connection
 * per consumer.
 */
export function createBullmqQueue(options: BullmqQueueOptions): ExecutionQueue {
  const { prefix, logger, maxAttempts, stalledIntervalMs } = options;
  if (!/^[a-zA-Z0-9_-]+$/.test(prefix)) throw new Error(`invalid Redis key prefix ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new Error('maxAttempts must be an integer ≥ 1');
  if (!Number.isInteger(stalledIntervalMs) || stalledIntervalMs < 100) {
    throw new Error('stalledIntervalMs must be an integer ≥ 100');
  }
  const backoffMs = options.backoffMs ?? 1000;
  const abortSettleMs = options.abortSettleMs ?? 5000;
  const log = logger.child({ component: 'queue' });
  const producerConnection = createRedisClient(options.redisUrl, {
    sentinel: options.sentinel,
    logger,
    connectionName: 'queue-producer',
  });
  const producer = new Queue<ExecutionJob>(executionQueueName, {
    connection: producerConnection,
    prefix,
    defaultJobOptions: {
      attempts: maxAttempts,
      backoff: { type: 'exponential', delay: backoffMs },
      removeOnComplete: { count: options.keepCompleted ?? 1000, age: 86_400 },
      removeOnFail: { count: options.keepFailed ?? 5000, age: 7 * 86_400 },
    },
  });
  producer.on('error', (err) => log.warn({ err: err.message }, 'queue producer error'));
  const producerSetup = new ConnectionSetup(producer.client, () => [producerConnection]);
  const consumers = new Set<BullmqConsumer>();
  let closed = false;

  return {
    async enqueue(job) {
      if (closed) throw new Error('the execution queue is closed');
      validateJob(job);
      // A job id is only added once while the job exists: BullMQ answers a duplicate add with the
      // existing job and changes nothing.
      await producer.add('execution', job, { jobId: job.executionId });
    },
    async jobState(executionId) {
      return stateOfJob(await producer.getJobState(executionId));
    },
    async revive(job) {
      if (closed) throw new Error('the execution queue is closed');
      validateJob(job);
      const state = await producer.getJobState(job.executionId);
      const found = stateOfJob(state);
      if (found === 'missing') {
        await producer.add('execution', job, { jobId: job.executionId });
      } else if (found === 'finished') {
        const existing = await Job.fromId<ExecutionJob>(producer, job.executionId);
        try {
          // One atomic move back to waiting; another process reviving it at the same time finds
          // it no longer finished and its retry fails harmlessly.
          await existing?.retry(state as 'completed' | 'failed', {
            resetAttemptsMade: true,
            resetAttemptsStarted: true,
          });
        } catch (err) {
          if (stateOfJob(await producer.getJobState(job.executionId)) !== 'live') throw err;
        }
      }
      return found;
    },
    consume(handler, consumerOptions) {
      if (closed) throw new Error('the execution queue is closed');
      validateConcurrency(consumerOptions);
      const consumer = new BullmqConsumer(handler, consumerOptions, {
        ...options,
        backoffMs,
        abortSettleMs,
        log,
        onClosed: () => consumers.delete(consumer),
      });
      consumers.add(consumer);
      return consumer;
    },
    async counts(): Promise<QueueCounts> {
      const c = await producer.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'paused');
      return {
        waiting: (c.waiting ?? 0) + (c.paused ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
        completed: c.completed ?? 0,
      };
    },
    async ping() {
      await pingRedis(producerConnection, 2000);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...consumers].map((c) => c.close(0)));
      await producerSetup.end();
      await producer.close().catch((err: Error) => log.warn({ err: err.message }, 'closing queue producer'));
      await closeRedisClient(producerConnection);
    },
  };
}

interface ConsumerSettings extends BullmqQueueOptions {
  backoffMs: number;
  abortSettleMs: number;
  log: Logger;
  onClosed: () => void;
}

class BullmqConsumer implements QueueConsumer {
  private readonly connection: Redis;
  private readonly worker: Worker<ExecutionJob>;
  private readonly setup: ConnectionSetup;
  private readonly jobs: RunningJobs;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly handler: JobHandler,
    options: ConsumerOptions,
    private readonly settings: ConsumerSettings,
  ) {
    this.jobs = new RunningJobs(settings.abortSettleMs);
    // Workers must wait for Redis instead of failing commands (BullMQ requires this).
    this.connection = createRedisClient(settings.redisUrl, {
      sentinel: settings.sentinel,
      logger: settings.logger,
      connectionName: 'queue-consumer',
      maxRetriesPerRequest: null,
    });
    const copies = recordCopies(this.connection);
    this.worker = new Worker<ExecutionJob>(executionQueueName, (job, token) => this.process(job, token), {
      connection: this.connection,
      prefix: settings.prefix,
      concurrency: options.concurrency,
      stalledInterval: settings.stalledIntervalMs,
      // The lock is renewed every half lockDuration; when the worker dies it expires after this.
      lockDuration: settings.stalledIntervalMs,
      maxStalledCount: settings.maxAttempts,
    });
    this.worker.on('error', (err) => settings.log.warn({ err: err.message }, 'queue consumer error'));
    // Its own connection and the blocking one BullMQ copies from it.
    this.setup = new ConnectionSetup(this.worker.waitUntilReady(), () => [this.connection, ...copies]);
    this.worker.on('failed', (job, err) => {
      if (job && err.name !== 'DelayedError') {
        settings.log.warn(
          { executionId: job.id, attempt: job.attemptsStarted, err: err.message },
          'execution job attempt failed',
        );
      }
    });
  }

  get running(): number {
    return this.jobs.size;
  }

  private async process(job: Job<ExecutionJob>, token: string | undefined): Promise<void> {
    const jobId = job.id ?? job.data.executionId;
    const outcome = await this.jobs.run(jobId, (signal) =>
      // `attemptsStarted` counts every move to active: first delivery, retries after a failure,
      // redelivery after a stall and after a hand-back.
      this.handler(job.data, { attempt: Math.max(1, job.attemptsStarted), signal }),
    );
    if (outcome.kind === 'completed') return;
    if (outcome.kind === 'failed') throw outcome.error;
    this.settings.log.info({ executionId: jobId }, 'handing execution back to the queue');
    try {
      await job.moveToDelayed(Date.now(), token);
    } catch (err) {
      // The lock is gone (Redis unreachable, or a stalled check already moved the job): leave the
      // job alone; once its lock expires the stalled check of any worker re-queues it.
      this.settings.log.warn(
        { executionId: jobId, err: (err as Error).message },
        'could not hand the execution back; it will be recovered as stalled',
      );
    }
    throw new DelayedError();
  }

  close(graceMs: number): Promise<void> {
    this.closing ??= (async () => {
      // A worker whose connection is not set up yet has taken no job.
      await this.setup.end();
      // Stops fetching at once (BullMQ drops its blocking connection) and resolves when the
      // processor functions have returned, which `drain` bounds.
      const workerClosed = this.worker.close();
      await this.jobs.drain(Math.max(0, graceMs));
      await workerClosed.catch((err: Error) =>
        this.settings.log.warn({ err: err.message }, 'closing queue consumer'),
      );
      await closeRedisClient(this.connection);
      this.settings.onClosed();
    })();
    return this.closing;
  }
}
