import type { ExecutionKind } from '../store/types.js';
import type { ConsumerOptions, ExecutionJob } from './types.js';

// A record keyed by the union, so adding a kind to the store without adding it here fails to compile.
const knownKinds: Record<ExecutionKind, true> = { script: true, agent: true };

/** Rejects a job the queue could not carry faithfully (clear error instead of a broken job). */
export function validateJob(job: ExecutionJob): void {
  if (typeof job !== 'object' || job === null) throw new TypeError('execution job must be an object');
  const { executionId, userId, kind } = job;
  // BullMQ job ids must not contain ':' (key separator) nor be plain integers (its own ids).
  if (
    typeof executionId !== 'string' ||
    !/^[A-Za-z0-9_-]{1,128}$/.test(executionId) ||
    /^\d+$/.test(executionId)
  ) {
    throw new TypeError(`invalid execution id ${JSON.stringify(executionId)}`);
  }
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 128) {
    throw new TypeError(`invalid user id ${JSON.stringify(userId)}`);
  }
  if (typeof kind !== 'string' || !Object.hasOwn(knownKinds, kind)) {
    throw new TypeError(`invalid execution kind ${JSON.stringify(kind)}`);
  }
}

export function validateConcurrency(options: ConsumerOptions): void {
  if (!Number.isInteger(options?.concurrency) || options.concurrency < 1 || options.concurrency > 1024) {
    throw new RangeError('concurrency must be an integer between 1 and 1024');
  }
}
