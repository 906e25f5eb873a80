import type { IsolationLevel, ScriptLanguage } from '../lib/vocabulary.js';
import type { ExecutionKind } from '../store/types.js';

/** What travels through the queue: only ids; the database holds the execution itself. */
export interface ExecutionJob {
  executionId: string;
  userId: string;
  kind: ExecutionKind;
}

export interface JobContext {
  /** 1 for the first delivery; higher when a crashed or drained worker's job is run again. */
  attempt: number;
  /** Aborted when the consumer is closing and the grace period is over. */
  signal: AbortSignal;
}

export type JobHandler = (job: ExecutionJob, context: JobContext) => Promise<void>;

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface ConsumerOptions {
  concurrency: number;
}

export interface QueueConsumer {
  /** Jobs being handled right now. */
  readonly running: number;
  /**
   * Stops taking jobs at once, waits up to `graceMs` for running ones, then aborts them and
   * hands them back to the queue so another consumer runs them. Resolves when all are settled.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * Where an execution's job is: `live` (waiting, delayed or being run: it will be delivered),
 * `finished` (completed or failed: it will not be delivered again), `missing` (no job known).
 */
export type JobState = 'live' | 'finished' | 'missing';

export interface ExecutionQueue {
  /** Idempotent: the job id is the execution id, so enqueueing twice is a no-op. */
  enqueue(job: ExecutionJob): Promise<void>;
  jobState(executionId: string): Promise<JobState>;
  /**
   * Makes sure the execution has a live job: a finished one is put back as a fresh job (its
   * delivery and failure counts reset), a missing one is enqueued, a live one is left alone.
   * Returns the state it found. Safe to call from several processes at once.
   */
  revive(job: ExecutionJob): Promise<JobState>;
  consume(handler: JobHandler, options: ConsumerOptions): QueueConsumer;
  counts(): Promise<QueueCounts>;
  /** Rejects when the backing service does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What each worker publishes every few seconds (docs/architecture.md, Worker → Heartbeats). */
export interface WorkerHeartbeat {
  workerId: string;
  hostname: string;
  pid: number;
  startedAt: string;
  /** When this heartbeat was published. */
  at: string;
  isolation: IsolationLevel;
  /** Script languages this worker's sandboxes run (older workers may not send it). */
  languages?: ScriptLanguage[];
  /** Each live sandbox runs under a uid of its own (a root worker); older workers do not send it. */
  separateUids?: boolean;
  /** A model provider is configured here, so agent turns can run (older workers do not send it). */
  modelConfigured?: boolean;
  concurrency: number;
  running: number;
  draining: boolean;
  pool: Record<string, number>;
}

export interface WorkerRegistry {
  /** Publishes a heartbeat that expires after `ttlMs` unless renewed. */
  publish(heartbeat: WorkerHeartbeat, ttlMs: number): Promise<void>;
  /** Removes a worker at once (clean shutdown). */
  remove(workerId: string): Promise<void>;
  /** Workers whose heartbeat has not expired. */
  list(): Promise<WorkerHeartbeat[]>;
  close(): Promise<void>;
}
