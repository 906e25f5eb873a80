import { backoffDelay } from '../lib/backoff.js';
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

export interface InProcessQueueOptions {
  /** Deliveries per execution through handler failures (`QUEUE_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** First retry delay after a handler failure; doubles on each further one. Default 1000 ms. */
  backoffMs?: number;
  /** How long an aborted handler gets to settle before its job is handed back anyway. Default 5000 ms. */
  abortSettleMs?: number;
  /** Finished jobs remembered for dedupe and counts. Default 1000 completed, 5000 failed. */
  keepCompleted?: number;
  keepFailed?: number;
}

type InProcessJobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

interface QueuedJob {
  job: ExecutionJob;
  state: InProcessJobState;
  /** Deliveries so far (what `JobContext.attempt` reports). */
  started: number;
  failures: number;
  timer?: NodeJS.Timeout;
}

function stateOf(entry: QueuedJob | undefined): JobState {
  if (!entry) return 'missing';
  return entry.state === 'completed' || entry.state === 'failed' ? 'finished' : 'live';
}

/**
 * `ExecutionQueue` in memory for standalone mode and tests, with the BullMQ queue's semantics:
 * dedupe by execution id (also for finished jobs still remembered), FIFO delivery bounded by each
 * consumer's concurrency, retries with exponential backoff up to `maxAttempts`, and
 * `close(grace)` handing unfinished jobs back to the front of the queue for another consumer.
 * Nothing survives the process: standalone mode runs API and worker in that same process.
 */
export function createInProcessQueue(options: InProcessQueueOptions): ExecutionQueue {
  const { maxAttempts } = options;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new Error('maxAttempts must be an integer ≥ 1');
  const backoffMs = options.backoffMs ?? 1000;
  const abortSettleMs = options.abortSettleMs ?? 5000;
  const keep = { completed: options.keepCompleted ?? 1000, failed: options.keepFailed ?? 5000 };
  const jobs = new Map<string, QueuedJob>();
  const waiting: QueuedJob[] = [];
  const finished = { completed: [] as string[], failed: [] as string[] };
  const consumers: InProcessConsumer[] = [];
  let closed = false;

  function remember(entry: QueuedJob, state: 'completed' | 'failed'): void {
    entry.state = state;
    const list = finished[state];
    list.push(entry.job.executionId);
    while (list.length > keep[state]) {
      const old = list.shift();
      if (old !== undefined) jobs.delete(old);
    }
  }

  function dispatch(): void {
    for (const consumer of consumers) {
      while (waiting.length > 0 && consumer.hasRoom()) {
        const entry = waiting.shift()!;
        entry.state = 'active';
        entry.started += 1;
        void consumer.start(entry).then((outcome) => {
          if (outcome.kind === 'completed') {
            remember(entry, 'completed');
          } else if (outcome.kind === 'handedBack') {
            // Front of the queue: it was taken before anything now waiting.
            entry.state = 'waiting';
            waiting.unshift(entry);
          } else {
            entry.failures += 1;
            if (entry.failures >= maxAttempts) {
              remember(entry, 'failed');
            } else {
              entry.state = 'delayed';
              entry.timer = setTimeout(
                () => {
                  entry.timer = undefined;
                  entry.state = 'waiting';
                  waiting.push(entry);
                  dispatch();
                },
                backoffDelay(entry.failures, { baseMs: backoffMs }),
              );
              entry.timer.unref();
            }
          }
          dispatch();
        });
      }
    }
  }

  class InProcessConsumer implements QueueConsumer {
    private readonly jobs = new RunningJobs(abortSettleMs);
    private closing: Promise<void> | undefined;

    constructor(
      private readonly handler: JobHandler,
      private readonly concurrency: number,
    ) {}

    get running(): number {
      return this.jobs.size;
    }

    hasRoom(): boolean {
      return this.closing === undefined && this.jobs.size < this.concurrency;
    }

    start(entry: QueuedJob) {
      return this.jobs.run(entry.job.executionId, (signal) =>
        this.handler(structuredClone(entry.job), { attempt: entry.started, signal }),
      );
    }

    close(graceMs: number): Promise<void> {
      this.closing ??= (async () => {
        const index = consumers.indexOf(this);
        if (index >= 0) consumers.splice(index, 1);
        await this.jobs.drain(Math.max(0, graceMs));
        // Outcomes are applied (hand-back, retry) in the same tick the drain settles; let them run.
        await new Promise((resolve) => setImmediate(resolve));
      })();
      return this.closing;
    }
  }

  async function enqueue(job: ExecutionJob): Promise<void> {
    if (closed) throw new Error('the execution queue is closed');
    validateJob(job);
    if (jobs.has(job.executionId)) return;
    const entry: QueuedJob = { job: structuredClone(job), state: 'waiting', started: 0, failures: 0 };
    jobs.set(job.executionId, entry);
    waiting.push(entry);
    dispatch();
  }

  return {
    enqueue,
    async jobState(executionId) {
      return stateOf(jobs.get(executionId));
    },
    async revive(job) {
      if (closed) throw new Error('the execution queue is closed');
      validateJob(job);
      const entry = jobs.get(job.executionId);
      const found = stateOf(entry);
      if (found === 'live') return found;
      if (entry) {
        const list = finished[entry.state as 'completed' | 'failed'];
        list.splice(list.indexOf(job.executionId), 1);
        jobs.delete(job.executionId);
      }
      await enqueue(job);
      return found;
    },
    consume(handler, consumerOptions: ConsumerOptions) {
      if (closed) throw new Error('the execution queue is closed');
      validateConcurrency(consumerOptions);
      const consumer = new InProcessConsumer(handler, consumerOptions.concurrency);
      consumers.push(consumer);
      queueMicrotask(dispatch);
      return consumer;
    },
    async counts(): Promise<QueueCounts> {
      const counts: QueueCounts = { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 };
      for (const entry of jobs.values()) counts[entry.state] += 1;
      return counts;
    },
    async ping() {
      if (closed) throw new Error('the execution queue is closed');
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...consumers].map((c) => c.close(0)));
      for (const entry of jobs.values()) if (entry.timer) clearTimeout(entry.timer);
    },
  };
}
