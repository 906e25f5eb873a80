import type { Config } from '../config/index.js';
import type { EventLog, EventType } from '../events/types.js';
import type { Execution, ExecutionError, ExecutionKind, Store, TokenUsage } from '../store/types.js';

/** What an executor reports back; the worker persists it and appends the terminal event. */
export interface ExecutionOutcome {
  status: 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
  result?: unknown;
  error?: ExecutionError | null;
  usage?: TokenUsage | null;
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
