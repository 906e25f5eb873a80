import { assertEventId, assertExecutionId, compareEventIds } from './ids.js';
import { type EventLog, type EventType, type ExecutionEvent, terminalEventTypes } from './types.js';
import { assertEventType, assertTtl, normaliseReadOptions, serialiseData } from './validate.js';

export interface InProcessEventLogOptions {
  /** Events kept per execution; the oldest are dropped beyond it. Default 10,000. */
  maxLength?: number;
}

interface Stream {
  events: ExecutionEvent[];
  lastMs: number;
  lastSeq: number;
  /** Id of the stream's terminal event, once it has one. */
  terminalId?: string;
  expiry?: NodeJS.Timeout;
}

interface Waiter {
  afterId: string;
  count: number | undefined;
  resolve: (events: ExecutionEvent[]) => void;
}

/**
 * `EventLog` in memory for standalone mode and tests, with the Redis log's semantics: ids are
 * `<ms>-<seq>` and strictly increasing per execution (the same ms gets the next seq, a clock that
 * steps back keeps the last ms), reads are exclusive of `afterId`, a stream gets one terminal event
 * only (a second one returns the first one's id, and still sets the expiry it asks for), blocked
 * readers are woken by the append itself, and `expire` removes the stream after its TTL (an unref'd
 * timer, so it never keeps the process alive).
 */
export function createInProcessEventLog(options: InProcessEventLogOptions = {}): EventLog {
  const maxLength = options.maxLength ?? 10_000;
  const streams = new Map<string, Stream>();
  const waiters = new Map<string, Set<Waiter>>();
  let closed = false;

  function after(stream: Stream | undefined, afterId: string, count: number | undefined): ExecutionEvent[] {
    if (!stream) return [];
    const { events } = stream;
    // Events are in id order: scan back from the newest to the first one after `afterId`.
    let start = events.length;
    while (start > 0 && compareEventIds(events[start - 1]!.id, afterId) > 0) start -= 1;
    const found = events.slice(start, count === undefined ? undefined : start + count);
    return found.map((e) => ({ ...e, data: structuredClone(e.data) }));
  }

  function scheduleExpiry(executionId: string, ttlSeconds: number): void {
    const stream = streams.get(executionId);
    if (!stream) return;
    if (stream.expiry) clearTimeout(stream.expiry);
    stream.expiry = setTimeout(() => {
      if (streams.get(executionId) === stream) streams.delete(executionId);
    }, ttlSeconds * 1000);
    stream.expiry.unref();
  }

  return {
    async append(executionId, type: EventType, data, options) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      assertEventType(type);
      if (options?.expireSeconds !== undefined) assertTtl(options.expireSeconds);
      const stored = JSON.parse(serialiseData(data)) as Record<string, unknown>;
      let stream = streams.get(executionId);
      if (!stream) {
        stream = { events: [], lastMs: 0, lastSeq: -1 };
        streams.set(executionId, stream);
      }
      const terminal = terminalEventTypes.includes(type);
      if (terminal && stream.terminalId !== undefined) {
        if (options?.expireSeconds !== undefined) scheduleExpiry(executionId, options.expireSeconds);
        return stream.terminalId;
      }
      const now = Date.now();
      if (now > stream.lastMs) {
        stream.lastMs = now;
        stream.lastSeq = 0;
      } else {
        stream.lastSeq += 1;
      }
      const event: ExecutionEvent = { id: `${stream.lastMs}-${stream.lastSeq}`, type, data: stored };
      stream.events.push(event);
      if (terminal) stream.terminalId = event.id;
      if (stream.events.length > maxLength) stream.events.splice(0, stream.events.length - maxLength);
      const blocked = waiters.get(executionId);
      if (blocked) {
        for (const waiter of blocked) {
          const found = after(stream, waiter.afterId, waiter.count);
          if (found.length > 0) waiter.resolve(found);
        }
      }
      if (options?.expireSeconds !== undefined) scheduleExpiry(executionId, options.expireSeconds);
      return event.id;
    },

    async read(executionId, afterId, readOptions) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      if (afterId !== undefined) assertEventId(afterId);
      const { blockMs, count, signal } = normaliseReadOptions(readOptions);
      const from = afterId ?? '0-0';
      const found = after(streams.get(executionId), from, count);
      if (found.length > 0 || blockMs === 0 || signal?.aborted) return found;
      return new Promise<ExecutionEvent[]>((resolve) => {
        let set = waiters.get(executionId);
        if (!set) {
          set = new Set();
          waiters.set(executionId, set);
        }
        const waiter: Waiter = {
          afterId: from,
          count,
          resolve: (events) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            set.delete(waiter);
            if (set.size === 0 && waiters.get(executionId) === set) waiters.delete(executionId);
            resolve(events);
          },
        };
        const onAbort = () => waiter.resolve([]);
        const timer = setTimeout(onAbort, blockMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        set.add(waiter);
      });
    },

    async last(executionId) {
      if (closed) throw new Error('the event log is closed');
      assertExecutionId(executionId);
      return streams.get(executionId)?.events.at(-1);
    },

    async expire(executionId, ttlSeconds) {
      assertExecutionId(executionId);
      assertTtl(ttlSeconds);
      scheduleExpiry(executionId, ttlSeconds);
    },

    async ping() {
      if (closed) throw new Error('the event log is closed');
    },

    async close() {
      closed = true;
      for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.resolve([]);
      for (const stream of streams.values()) if (stream.expiry) clearTimeout(stream.expiry);
      streams.clear();
    },
  };
}
