import { describe, expect, it } from 'vitest';
import {
  applyExecutionEvent,
  type ExecutionView,
  initialExecutionView,
  type StreamEvent,
  usageOf,
} from './index';

const fold = (events: StreamEvent[]): ExecutionView =>
  events.reduce(applyExecutionEvent, initialExecutionView);

describe('applyExecutionEvent', () => {
  it('joins text deltas, pairs tool calls with results and sums usage', () => {
    const view = fold([
      { type: 'execution.queued', data: { executionId: 'e', kind: 'agent' } },
      { type: 'execution.started', data: { attempt: 1, workerId: 'w' } },
      { type: 'text.delta', data: { text: 'Let me ', attempt: 1 } },
      { type: 'text.delta', data: { text: 'look.', attempt: 1 } },
      {
        type: 'tool.call',
        data: { toolCallId: 't1', toolName: 'list_files', input: { dir: 'uploads' }, attempt: 1 },
      },
      { type: 'usage', data: { inputTokens: 10, outputTokens: 5, attempt: 1 } },
      {
        type: 'tool.result',
        data: { toolCallId: 't1', toolName: 'list_files', output: ['a.csv'], isError: false, attempt: 1 },
      },
      { type: 'text.delta', data: { text: 'Done.', attempt: 1 } },
      { type: 'usage', data: { inputTokens: 20, outputTokens: 7, attempt: 1 } },
    ]);
    expect(view.status).toBe('running');
    expect(view.items).toEqual([
      { kind: 'text', attempt: 1, text: 'Let me look.' },
      {
        kind: 'tool',
        attempt: 1,
        toolCallId: 't1',
        toolName: 'list_files',
        input: { dir: 'uploads' },
        output: ['a.csv'],
        isError: false,
        done: true,
      },
      { kind: 'text', attempt: 1, text: 'Done.' },
    ]);
    expect(usageOf(view)).toEqual({ inputTokens: 30, outputTokens: 12 });
  });

  it('drops everything of a superseded attempt, then shows the re-run', () => {
    const view = fold([
      { type: 'execution.started', data: { attempt: 1 } },
      { type: 'text.delta', data: { text: 'first try', attempt: 1 } },
      { type: 'tool.call', data: { toolCallId: 'a', toolName: 'run_code', input: {}, attempt: 1 } },
      { type: 'usage', data: { inputTokens: 5, outputTokens: 5, attempt: 1 } },
      { type: 'execution.superseded', data: { attempt: 1 } },
      { type: 'execution.started', data: { attempt: 2 } },
      { type: 'text.delta', data: { text: 'second try', attempt: 2 } },
      {
        type: 'execution.completed',
        data: {
          status: 'succeeded',
          result: null,
          durationMs: 42,
          usage: { inputTokens: 3, outputTokens: 4 },
        },
      },
    ]);
    expect(view.items).toEqual([{ kind: 'text', attempt: 2, text: 'second try' }]);
    expect(view.status).toBe('succeeded');
    expect(view.durationMs).toBe(42);
    expect(usageOf(view)).toEqual({ inputTokens: 3, outputTokens: 4 });
  });

  it('merges script output per stream and records failures', () => {
    const view = fold([
      { type: 'execution.started', data: { attempt: 1 } },
      { type: 'output', data: { stream: 'stdout', data: 'a\n', attempt: 1 } },
      { type: 'output', data: { stream: 'stdout', data: 'b\n', attempt: 1 } },
      { type: 'output', data: { stream: 'stderr', data: 'oops\n', attempt: 1 } },
      { type: 'file.changed', data: { path: 'outputs/r.csv', change: 'created', size: 3, attempt: 1 } },
      {
        type: 'execution.failed',
        data: { status: 'timed_out', error: { code: 'timeout', message: 'took too long' }, durationMs: 5000 },
      },
    ]);
    expect(view.items).toEqual([
      { kind: 'output', attempt: 1, stream: 'stdout', data: 'a\nb\n' },
      { kind: 'output', attempt: 1, stream: 'stderr', data: 'oops\n' },
      { kind: 'file', attempt: 1, path: 'outputs/r.csv', change: 'created', size: 3 },
    ]);
    expect(view.status).toBe('timed_out');
    expect(view.error).toEqual({ code: 'timeout', message: 'took too long' });
  });

  it('ignores unknown event types', () => {
    expect(fold([{ type: 'something.new', data: {} }])).toEqual(initialExecutionView);
  });
});
