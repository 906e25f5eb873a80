/** Event types of an execution's stream (docs/architecture.md, Events; payloads in docs/api.md). */
export const eventTypes = [
  'execution.queued',
  'execution.started',
  'text.delta',
  'tool.call',
  'tool.result',
  'output',
  'file.changed',
  'usage',
  'execution.superseded',
  'execution.completed',
  'execution.failed',
  'execution.cancelled',
] as const;
export type EventType = (typeof eventTypes)[number];

export const terminalEventTypes: readonly EventType[] = [
  'execution.completed',
  'execution.failed',
  'execution.cancelled',
];

export interface ExecutionEvent {
  /** Stream id, strictly increasing within one execution; what SSE sends as `id:`. */
  id: string;
  type: EventType;
  data: Record<string, unknown>;
}

export interface ReadOptions {
  /** Wait up to this long for new events when none are there yet (0 = do not wait). */
  blockMs?: number;
  /** At most this many events. */
  count?: number;
  /** Ends a blocking wait early (e.g. the SSE client went away); the read then resolves to []. */
  signal?: AbortSignal;
}

export interface EventLog {
  /**
   * Appends an event and returns its id. `expireSeconds` also schedules the stream's removal, in
   * the same round trip (the terminal event's append, instead of a separate `expire`).
   */
  append(
    executionId: string,
    type: EventType,
    data: Record<string, unknown>,
    options?: { expireSeconds?: number },
  ): Promise<string>;
  /**
   * Events after `afterId` (from the start when undefined), oldest first. With `blockMs`, waits
   * for the next event when there is none yet. Rejects on an id that is not a valid stream id.
   */
  read(executionId: string, afterId: string | undefined, options?: ReadOptions): Promise<ExecutionEvent[]>;
  /** The newest event of the stream, or undefined when it is empty or gone. */
  last(executionId: string): Promise<ExecutionEvent | undefined>;
  /** Schedules the stream's removal `ttlSeconds` from now (called after the terminal event). */
  expire(executionId: string, ttlSeconds: number): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A malformed `Last-Event-ID` or `after` parameter. */
export class InvalidEventIdError extends Error {
  constructor(id: string) {
    super(`invalid event id: ${JSON.stringify(id)}`);
    this.name = 'InvalidEventIdError';
  }
}
