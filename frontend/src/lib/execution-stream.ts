/**
 * Folds an execution's event stream (docs/api.md, "Events") into what the views draw: the agent's
 * text, tool cards, script output, file changes, usage and the outcome. Every item remembers the
 * attempt it came from, so `execution.superseded` can void exactly that attempt's items.
 */
import type { ExecutionStatus, TokenUsage } from './types';

export type TranscriptItem =
  | { kind: 'text'; attempt: number; text: string }
  | {
      kind: 'tool';
      attempt: number;
      toolCallId: string;
      toolName: string;
      input: unknown;
      output?: unknown;
      isError?: boolean;
      done: boolean;
    }
  | { kind: 'output'; attempt: number; stream: 'stdout' | 'stderr'; data: string }
  | { kind: 'file'; attempt: number; path: string; change: string; size?: number };

export interface ExecutionView {
  status: ExecutionStatus | 'connecting';
  attempt: number;
  items: TranscriptItem[];
  /** Usage reported so far, per attempt (voided attempts removed). */
  usageByAttempt: Record<number, TokenUsage>;
  /** The final usage once the execution completed with one. */
  finalUsage: TokenUsage | null;
  result: unknown;
  error: { code: string; message: string } | null;
  durationMs: number | null;
}

export const initialExecutionView: ExecutionView = {
  status: 'connecting',
  attempt: 0,
  items: [],
  usageByAttempt: {},
  finalUsage: null,
  result: undefined,
  error: null,
  durationMs: null,
};

export interface StreamEvent {
  type: string;
  data: Record<string, unknown>;
}

export function isTerminalEvent(type: string): boolean {
  return type === 'execution.completed' || type === 'execution.failed' || type === 'execution.cancelled';
}

const num = (value: unknown, fallback = 0): number => (typeof value === 'number' ? value : fallback);
const str = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : fallback);

export function applyExecutionEvent(view: ExecutionView, event: StreamEvent): ExecutionView {
  const data = event.data;
  const attempt = num(data.attempt, view.attempt);
  switch (event.type) {
    case 'execution.queued':
      return view.status === 'connecting' ? { ...view, status: 'queued' } : view;
    case 'execution.started':
      return { ...view, status: 'running', attempt: num(data.attempt, view.attempt + 1) };
    case 'execution.superseded': {
      const voided = num(data.attempt, view.attempt);
      const { [voided]: _dropped, ...usageByAttempt } = view.usageByAttempt;
      return {
        ...view,
        status: 'queued',
        items: view.items.filter((item) => item.attempt !== voided),
        usageByAttempt,
      };
    }
    case 'text.delta': {
      const text = str(data.text);
      const last = view.items.at(-1);
      if (last?.kind === 'text' && last.attempt === attempt) {
        return { ...view, items: [...view.items.slice(0, -1), { ...last, text: last.text + text }] };
      }
      return { ...view, items: [...view.items, { kind: 'text', attempt, text }] };
    }
    case 'tool.call':
      return {
        ...view,
        items: [
          ...view.items,
          {
            kind: 'tool',
            attempt,
            toolCallId: str(data.toolCallId),
            toolName: str(data.toolName),
            input: data.input,
            done: false,
          },
        ],
      };
    case 'tool.result': {
      const id = str(data.toolCallId);
      let matched = false;
      const items = view.items.map((item) => {
        if (item.kind !== 'tool' || item.toolCallId !== id || item.attempt !== attempt) return item;
        matched = true;
        return { ...item, output: data.output, isError: data.isError === true, done: true };
      });
      if (!matched) {
        items.push({
          kind: 'tool',
          attempt,
          toolCallId: id,
          toolName: str(data.toolName),
          input: undefined,
          output: data.output,
          isError: data.isError === true,
          done: true,
        });
      }
      return { ...view, items };
    }
    case 'output': {
      const stream = data.stream === 'stderr' ? 'stderr' : 'stdout';
      const chunk = str(data.data);
      const last = view.items.at(-1);
      if (last?.kind === 'output' && last.attempt === attempt && last.stream === stream) {
        return { ...view, items: [...view.items.slice(0, -1), { ...last, data: last.data + chunk }] };
      }
      return { ...view, items: [...view.items, { kind: 'output', attempt, stream, data: chunk }] };
    }
    case 'file.changed':
      return {
        ...view,
        items: [
          ...view.items,
          {
            kind: 'file',
            attempt,
            path: str(data.path),
            change: str(data.change),
            ...(typeof data.size === 'number' ? { size: data.size } : {}),
          },
        ],
      };
    case 'usage': {
      // Usage events are reported per model step; a turn's usage is their sum.
      const previous = view.usageByAttempt[attempt] ?? { inputTokens: 0, outputTokens: 0 };
      return {
        ...view,
        usageByAttempt: {
          ...view.usageByAttempt,
          [attempt]: {
            inputTokens: previous.inputTokens + num(data.inputTokens),
            outputTokens: previous.outputTokens + num(data.outputTokens),
          },
        },
      };
    }
    case 'execution.completed':
      return {
        ...view,
        status: 'succeeded',
        result: data.result,
        durationMs: num(data.durationMs, view.durationMs ?? 0),
        finalUsage: isUsage(data.usage) ? data.usage : view.finalUsage,
      };
    case 'execution.failed':
      return {
        ...view,
        status: data.status === 'timed_out' ? 'timed_out' : 'failed',
        error: isError(data.error) ? data.error : { code: 'failed', message: '' },
        durationMs: num(data.durationMs, view.durationMs ?? 0),
      };
    case 'execution.cancelled':
      return { ...view, status: 'cancelled', durationMs: num(data.durationMs, view.durationMs ?? 0) };
    default:
      return view;
  }
}

/** Token usage of the turn: the final figure when known, else the sum of the live attempt. */
export function usageOf(view: ExecutionView): TokenUsage | null {
  if (view.finalUsage) return view.finalUsage;
  return view.usageByAttempt[view.attempt] ?? null;
}

function isUsage(value: unknown): value is TokenUsage {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as TokenUsage).inputTokens === 'number' &&
    typeof (value as TokenUsage).outputTokens === 'number'
  );
}

function isError(value: unknown): value is { code: string; message: string } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string'
  );
}
