/**
 * A small Server-Sent Events client on top of `fetch` streaming. `EventSource` cannot set the
 * `Last-Event-ID` header on the first connection (a page reload mid-turn must resume where the
 * view left off), so this client reads the stream itself (parsed by `eventsource-parser`),
 * reconnects after a drop, honours the server's `retry:` hint, and drops events whose id it has
 * already delivered (the last thousand ids).
 */

import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseMessage {
  /** The `id:` of the event, or the last id seen when the event has none. */
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Incremental `text/event-stream` parser (WHATWG HTML §9.2.6) on top of `eventsource-parser`.
 * Feed it decoded text in chunks of any size; it calls `onMessage` for each complete event, with
 * the last id seen when the event has none, and `onRetry` for a valid `retry:` field.
 */
export class SseParser {
  private lastId: string | undefined;
  private readonly parser: EventSourceParser;

  constructor(
    onMessage: (message: SseMessage) => void,
    onRetry: (ms: number) => void = () => {},
    initialLastId?: string,
  ) {
    this.lastId = initialLastId;
    this.parser = createParser({
      onEvent: (event) => {
        if (event.id !== undefined) this.lastId = event.id;
        onMessage({ id: this.lastId, event: event.event ?? 'message', data: event.data });
      },
      onRetry,
    });
  }

  push(chunk: string): void {
    this.parser.feed(chunk);
  }

  /** Forgets a partial event (the connection dropped before its blank line). */
  reset(): void {
    this.parser.reset();
  }
}

/** Ids remembered to drop replays: far more than a reconnect ever replays, and bounded. */
const rememberedIds = 1000;

export type EventStreamState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface EventStreamOptions {
  url: string;
  /** Resume after this id (sent as `Last-Event-ID` on the first connection too). */
  lastEventId?: string;
  onMessage: (message: SseMessage) => void;
  /** True for the event after which the server closes the stream for good. */
  isFinal?: (message: SseMessage) => boolean;
  onStateChange?: (state: EventStreamState) => void;
  /** The server answered 204: the stream is over and nothing follows the given id. */
  onNoContent?: () => void;
  /** A failure that ends the stream (an HTTP error other than 5xx/429). */
  onFatalError?: (error: EventStreamError) => void;
  /** Delay before reconnecting when the server gave no `retry:` hint. */
  retryMs?: number;
  /** Upper bound for the back-off after repeated failures. */
  maxRetryMs?: number;
  fetch?: typeof fetch;
}

export class EventStreamError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EventStreamError';
  }
}

export interface EventStream {
  close(): void;
  /** The id of the last event delivered. */
  readonly lastEventId: string | undefined;
}

/** Opens a reconnecting event stream; call `close()` to stop it. */
export function openEventStream(options: EventStreamOptions): EventStream {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const maxRetryMs = options.maxRetryMs ?? 15_000;
  let retryMs = options.retryMs ?? 1_000;
  let failures = 0;
  let lastEventId = options.lastEventId;
  const delivered = new Set<string>();
  let closed = false;
  let finished = false;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const setState = (state: EventStreamState) => options.onStateChange?.(state);

  const deliver = (message: SseMessage) => {
    if (closed) return;
    if (message.id !== undefined) {
      // The server resumes strictly after Last-Event-ID, but a replica switch or a proxy retry
      // can still replay an event; each id reaches the view once.
      if (delivered.has(message.id)) return;
      delivered.add(message.id);
      // Oldest first out: a replay only ever repeats the newest events.
      if (delivered.size > rememberedIds) delivered.delete(delivered.values().next().value as string);
      lastEventId = message.id;
    }
    options.onMessage(message);
    if (options.isFinal?.(message)) {
      finished = true;
      stop();
    }
  };

  const stop = () => {
    closed = true;
    if (timer) clearTimeout(timer);
    controller?.abort();
    setState('closed');
  };

  const scheduleReconnect = () => {
    if (closed) return;
    setState('reconnecting');
    const delay = Math.min(maxRetryMs, retryMs * 2 ** Math.max(0, failures - 1));
    timer = setTimeout(connect, delay);
  };

  const connect = async () => {
    if (closed) return;
    controller = new AbortController();
    const parser = new SseParser(
      deliver,
      (ms) => {
        retryMs = ms;
      },
      lastEventId,
    );
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    try {
      const response = await doFetch(options.url, {
        headers,
        credentials: 'same-origin',
        signal: controller.signal,
        cache: 'no-store',
      });
      if (response.status === 204) {
        // "No Content" tells an event-stream client to stop reconnecting (WHATWG HTML §9.2.3).
        finished = true;
        closed = true;
        setState('closed');
        options.onNoContent?.();
        return;
      }
      if (!response.ok || !response.body) {
        const retriable = response.status >= 500 || response.status === 429;
        if (retriable) {
          failures++;
          scheduleReconnect();
          return;
        }
        const error = await errorOf(response);
        closed = true;
        setState('closed');
        options.onFatalError?.(error);
        return;
      }
      setState('open');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let receivedAny = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!receivedAny && value.length > 0) {
          receivedAny = true;
          failures = 0;
        }
        parser.push(value);
        if (closed) {
          await reader.cancel().catch(() => {});
          return;
        }
      }
      // The server closed without the final event (draining, proxy timeout): resume elsewhere.
      if (!finished) {
        if (!receivedAny) failures++;
        scheduleReconnect();
      }
    } catch {
      if (closed) return;
      failures++;
      scheduleReconnect();
    }
  };

  setState('connecting');
  void connect();

  return {
    close: () => {
      if (!closed) stop();
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}

async function errorOf(response: Response): Promise<EventStreamError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    return new EventStreamError(
      response.status,
      body.error?.code ?? `http_${response.status}`,
      body.error?.message ?? response.statusText,
    );
  } catch {
    return new EventStreamError(response.status, `http_${response.status}`, response.statusText);
  }
}
