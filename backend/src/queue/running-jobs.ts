import { valueWithin } from '../lib/timeout.js';

/** The reason of a job's `signal` when its consumer closed and the grace period ran out. */
export class ConsumerClosingError extends Error {
  constructor() {
    super('the worker is shutting down; the execution goes back to the queue');
    this.name = 'ConsumerClosingError';
  }
}

export type JobOutcome =
  | { kind: 'completed' }
  | { kind: 'failed'; error: unknown }
  /** Aborted by close(grace): the job must go back to the queue, not count as a failure. */
  | { kind: 'handedBack' };

interface RunningJob {
  controller: AbortController;
  /** Settles when the handler has settled. */
  settled: Promise<void>;
  /** Settles with the outcome the queue acts on (at most `settleMs` after an abort). */
  outcome: Promise<JobOutcome>;
}

/**
 * The jobs one consumer is running, and the shutdown sequence both queue implementations share:
 * wait up to `graceMs` for them, abort the rest, give the handlers `settleMs` to react, then report
 * them as handed back. A handler that resolves even after the abort counts as completed (its work
 * is done); one that rejects after the abort, or does not settle in time, is handed back.
 */
export class RunningJobs {
  private readonly jobs = new Map<string, RunningJob>();

  constructor(private readonly settleMs: number) {}

  get size(): number {
    return this.jobs.size;
  }

  run(jobId: string, handler: (signal: AbortSignal) => Promise<void>): Promise<JobOutcome> {
    const controller = new AbortController();
    const handlerResult: Promise<JobOutcome> = (async () => handler(controller.signal))().then(
      (): JobOutcome => ({ kind: 'completed' }),
      (error: unknown): JobOutcome =>
        controller.signal.reason instanceof ConsumerClosingError
          ? { kind: 'handedBack' }
          : { kind: 'failed', error },
    );
    const settled = handlerResult.then(() => undefined);
    const abandoned = new Promise<JobOutcome>((resolve) => {
      controller.signal.addEventListener(
        'abort',
        () => setTimeout(() => resolve({ kind: 'handedBack' }), this.settleMs).unref(),
        { once: true },
      );
    });
    const outcome = Promise.race([handlerResult, abandoned]).finally(() => this.jobs.delete(jobId));
    this.jobs.set(jobId, { controller, settled, outcome });
    return outcome;
  }

  /** Waits up to `graceMs` for running jobs, then aborts the rest and waits for their outcome. */
  async drain(graceMs: number): Promise<void> {
    if (this.jobs.size === 0) return;
    await valueWithin(Promise.all([...this.jobs.values()].map((j) => j.settled)), graceMs);
    const left = [...this.jobs.values()];
    for (const job of left) job.controller.abort(new ConsumerClosingError());
    await Promise.all(left.map((j) => j.outcome));
  }
}
