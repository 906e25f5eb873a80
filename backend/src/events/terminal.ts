import type { Execution } from '../store/types.js';
import type { EventType } from './types.js';

export interface TerminalEvent {
  type: Extract<EventType, 'execution.completed' | 'execution.failed' | 'execution.cancelled'>;
  data: Record<string, unknown>;
}

/**
 * The terminal event of a finished execution as its row tells it: what the worker appends when it
 * settles, and what stands in for it when the stream expired or a worker died before appending it.
 */
export function terminalEventOf(execution: Execution): TerminalEvent {
  const status = execution.status;
  const durationMs = execution.durationMs ?? 0;
  if (status === 'succeeded') {
    const data: Record<string, unknown> = { status, result: execution.result ?? null, durationMs };
    if (execution.usage) data.usage = execution.usage;
    return { type: 'execution.completed', data };
  }
  if (status === 'cancelled') return { type: 'execution.cancelled', data: { status, durationMs } };
  const error = execution.error ?? { code: status, message: `The execution ended ${status}.` };
  return { type: 'execution.failed', data: { status, error, durationMs } };
}
