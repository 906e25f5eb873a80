import type { Config } from '../config/index.js';
import type { EventLog, EventType } from '../events/types.js';
import type { Execution, ExecutionError, ExecutionKind, Store, TokenUsage } from '../store/types.js';
import type { FileWriteBack } from './file-sync.js';

/** What an executor reports back; the worker persists it and appends the terminal event. */
export interface ExecutionOutcome {
  status: 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
  result?: unknown;
  error?: ExecutionError | null;
  usage?: TokenUsage | null;
  /**
   * The files the execution changed. The worker stores them in the transaction that writes the
   * finished row (or not at all: a quota failure, a lost race, a cancel), then closes them.
   */
  files?: FileWriteBack;
}

export interface ExecutionContext {
  execution: Execution;
  attempt: number;
  /** Aborted on cancel, timeout or worker shutdown; `signal.reason` tells which. */
  signal: AbortSignal;
  /** Appends to the execution's event stream. */
  emit(type: EventType, data: Record<string, unknown>): Promise<void>;
  store: Store;
  events: EventLog;
  config: Config;
}

/** Runs one kind of execution. The worker owns status, timing, retries and terminal events. */
export interface Executor {
  readonly kind: ExecutionKind;
  run(context: ExecutionContext): Promise<ExecutionOutcome>;
}

/** Why an execution's signal fired: a cancel request, its time limit, or the worker shutting down. */
export type AbortCode = 'cancelled' | 'timed_out' | 'shutdown';

/**
 * The `signal.reason` of an aborted execution. Named `AbortError` so libraries that rethrow the
 * reason (fetch, model SDKs) are recognised as aborted rather than failed.
 */
export class ExecutionAbortedError extends Error {
  constructor(readonly code: AbortCode) {
    super(
      code === 'cancelled'
        ? 'execution cancelled'
        : code === 'timed_out'
          ? 'execution exceeded its time limit'
          : 'worker shutting down',
    );
    this.name = 'AbortError';
  }
}

/** The abort code of a signal fired by the worker, undefined when it has not fired. */
export function abortCodeOf(signal: AbortSignal): AbortCode | undefined {
  if (!signal.aborted) return undefined;
  return signal.reason instanceof ExecutionAbortedError ? signal.reason.code : 'shutdown';
}
