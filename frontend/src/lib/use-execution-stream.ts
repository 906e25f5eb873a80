import { useEffect, useRef, useState } from 'react';
import { api, apiUrl } from './api-client';
import {
  applyExecutionEvent,
  type ExecutionView,
  initialExecutionView,
  isTerminalEvent,
  type StreamEvent,
} from './execution-stream';
import { type EventStreamError, type EventStreamState, openEventStream } from './sse';
import type { Execution } from './types';

/**
 * What a reload needs to continue a stream where the page left it: the folded view and the id of
 * the last event in it. Kept per tab (sessionStorage) and dropped when the execution finishes.
 */
interface Snapshot {
  lastEventId: string;
  view: ExecutionView;
}

const snapshotKey = (executionId: string) => `ipa.stream.${executionId}`;

function readSnapshot(executionId: string): Snapshot | undefined {
  try {
    const text = sessionStorage.getItem(snapshotKey(executionId));
    if (!text) return undefined;
    const snapshot = JSON.parse(text) as Snapshot;
    return typeof snapshot.lastEventId === 'string' && Array.isArray(snapshot.view?.items)
      ? snapshot
      : undefined;
  } catch {
    return undefined;
  }
}

function writeSnapshot(executionId: string, snapshot: Snapshot | undefined): void {
  try {
    if (snapshot) sessionStorage.setItem(snapshotKey(executionId), JSON.stringify(snapshot));
    else sessionStorage.removeItem(snapshotKey(executionId));
  } catch {
    // Storage full or disabled: a reload then replays the stream from its start instead.
  }
}

export interface ExecutionStreamResult {
  view: ExecutionView;
  connection: EventStreamState;
  error: EventStreamError | null;
}

/** Follows one execution's event stream; `null` follows nothing. */
export function useExecutionStream(
  executionId: string | null,
  onFinished?: (view: ExecutionView) => void,
): ExecutionStreamResult {
  const [view, setView] = useState<ExecutionView>(initialExecutionView);
  const [connection, setConnection] = useState<EventStreamState>('closed');
  const [error, setError] = useState<EventStreamError | null>(null);
  const onFinishedRef = useRef(onFinished);
  onFinishedRef.current = onFinished;

  useEffect(() => {
    if (!executionId) {
      setView(initialExecutionView);
      setConnection('closed');
      return;
    }
    const snapshot = readSnapshot(executionId);
    let current = snapshot?.view ?? initialExecutionView;
    setView(current);
    setError(null);
    let saveTimer: ReturnType<typeof setTimeout> | undefined;
    let lastId = snapshot?.lastEventId;
    const save = () => {
      saveTimer = undefined;
      if (lastId) writeSnapshot(executionId, { lastEventId: lastId, view: current });
    };
    const stream = openEventStream({
      url: apiUrl(`/executions/${encodeURIComponent(executionId)}/events`),
      ...(snapshot ? { lastEventId: snapshot.lastEventId } : {}),
      onMessage: (message) => {
        let data: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(message.data);
          if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
        } catch {
          return;
        }
        const event: StreamEvent = { type: message.event, data };
        current = applyExecutionEvent(current, event);
        lastId = message.id ?? lastId;
        setView(current);
        if (isTerminalEvent(event.type)) {
          if (saveTimer) clearTimeout(saveTimer);
          saveTimer = undefined;
          writeSnapshot(executionId, undefined);
          onFinishedRef.current?.(current);
        } else if (!saveTimer) {
          saveTimer = setTimeout(save, 200);
        }
      },
      isFinal: (message) => isTerminalEvent(message.event),
      onStateChange: setConnection,
      onNoContent: () => {
        // The execution ended while this page was away and every event was already seen: take
        // the outcome from its record.
        writeSnapshot(executionId, undefined);
        void api<Execution>(`/executions/${encodeURIComponent(executionId)}`)
          .then((execution) => {
            current = {
              ...current,
              status: execution.status,
              attempt: execution.attempt,
              result: execution.result,
              error: execution.error,
              durationMs: execution.durationMs,
              finalUsage: execution.usage,
            };
            setView(current);
            onFinishedRef.current?.(current);
          })
          .catch(() => onFinishedRef.current?.(current));
      },
      onFatalError: setError,
    });
    const flush = () => {
      if (saveTimer) {
        clearTimeout(saveTimer);
        save();
      }
    };
    window.addEventListener('pagehide', flush);
    return () => {
      window.removeEventListener('pagehide', flush);
      flush();
      stream.close();
    };
  }, [executionId]);

  return { view, connection, error };
}
