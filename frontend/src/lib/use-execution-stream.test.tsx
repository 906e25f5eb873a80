import { renderHook, waitFor } from '@testing-library/react';
import { http } from 'msw';
import { describe, expect, it } from 'vitest';
import { server, sseResponse } from '../testing/server';
import { applyExecutionEvent, initialExecutionView, useExecutionStream } from './index';

describe('useExecutionStream', () => {
  it('after a reload, resumes from the saved view with Last-Event-ID: no text lost, none repeated', async () => {
    const saved = [
      { type: 'execution.started', data: { attempt: 1 } },
      { type: 'text.delta', data: { text: 'Hello, ', attempt: 1 } },
    ].reduce(applyExecutionEvent, initialExecutionView);
    sessionStorage.setItem('ipa.stream.e1', JSON.stringify({ lastEventId: '2-0', view: saved }));
    const seenIds: (string | null)[] = [];
    server.use(
      http.get('/api/v1/executions/e1/events', ({ request }) => {
        seenIds.push(request.headers.get('last-event-id'));
        return sseResponse([
          { id: '3-0', type: 'text.delta', data: { text: 'world', attempt: 1 } },
          {
            id: '4-0',
            type: 'execution.completed',
            data: { status: 'succeeded', result: null, durationMs: 9 },
          },
        ]);
      }),
    );
    let finished = false;
    const { result } = renderHook(() => useExecutionStream('e1', () => (finished = true)));
    await waitFor(() => expect(result.current.view.status).toBe('succeeded'));
    expect(seenIds).toEqual(['2-0']);
    expect(result.current.view.items).toEqual([{ kind: 'text', attempt: 1, text: 'Hello, world' }]);
    expect(finished).toBe(true);
    // A finished execution leaves nothing behind for the next reload.
    expect(sessionStorage.getItem('ipa.stream.e1')).toBeNull();
  });

  it('without a saved view, replays the stream from its start', async () => {
    const seenIds: (string | null)[] = [];
    server.use(
      http.get('/api/v1/executions/e2/events', ({ request }) => {
        seenIds.push(request.headers.get('last-event-id'));
        return sseResponse([
          { id: '1-0', type: 'execution.cancelled', data: { status: 'cancelled', durationMs: 1 } },
        ]);
      }),
    );
    const { result } = renderHook(() => useExecutionStream('e2'));
    await waitFor(() => expect(result.current.view.status).toBe('cancelled'));
    expect(seenIds).toEqual([null]);
  });
});
