/** Why an attempt goes back to the queue instead of settling: both make the queue deliver it again. */

/** Thrown to the queue so an attempt cut short by shutdown is delivered again, not completed. */
export class ExecutionHandedBackError extends Error {
  constructor(readonly executionId: string) {
    super(`execution ${executionId} handed back to the queue at worker shutdown`);
    this.name = 'ExecutionHandedBackError';
  }
}

/**
 * Thrown to the queue when an event of a running attempt could not be appended (the event log was
 * unreachable for longer than its client rides out, e.g. a slow Redis failover). The stream then
 * misses part of the attempt, so the attempt is void: it runs again after the queue's backoff,
 * marked superseded, instead of failing the execution for the platform's own fault.
 */
export class AttemptStreamLostError extends Error {
  constructor(
    readonly executionId: string,
    cause: unknown,
  ) {
    super(`an event of execution ${executionId} could not be appended; the attempt runs again`, { cause });
    this.name = 'AttemptStreamLostError';
  }
}
