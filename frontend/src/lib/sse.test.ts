import { afterEach, describe, expect, it, vi } from 'vitest';
import { openEventStream, type SseMessage, SseParser } from './index';

describe('SseParser', () => {
  const parse = (chunks: string[]) => {
    const messages: SseMessage[] = [];
    const retries: number[] = [];
    const parser = new SseParser(
      (message) => messages.push(message),
      (ms) => retries.push(ms),
    );
    for (const chunk of chunks) parser.push(chunk);
    return { messages, retries };
  };

  it('parses events split at any byte, with CRLF, comments and multi-line data', () => {
    const text =
      ': keep-alive\r\nid: 1-0\r\nevent: text.delta\r\ndata: {"text":"a"}\r\n\r\nid: 2-0\nevent: output\ndata: line1\ndata: line2\n\nretry: 1500\n\n';
    const whole = parse([text]);
    const oneByOne = parse([...text]);
    for (const result of [whole, oneByOne]) {
      expect(result.messages).toEqual([
        { id: '1-0', event: 'text.delta', data: '{"text":"a"}' },
        { id: '2-0', event: 'output', data: 'line1\nline2' },
      ]);
      expect(result.retries).toEqual([1500]);
    }
  });

  it('keeps the last id for events without one, defaults the type, ignores bad retry values', () => {
    const { messages, retries } = parse(['id: 7-1\ndata: x\n\ndata: y\n\nretry: soon\n\n']);
    expect(messages).toEqual([
      { id: '7-1', event: 'message', data: 'x' },
      { id: '7-1', event: 'message', data: 'y' },
    ]);
    expect(retries).toEqual([]);
  });

  it('does not dispatch an event whose blank line has not arrived', () => {
    const { messages } = parse(['id: 1-0\nevent: a\ndata: partial']);
    expect(messages).toEqual([]);
  });
});

/** A fake server: each connection is answered by the next script entry. */
type Connection =
  | { status: number; body?: string }
  | { chunks: string[]; thenError?: boolean; hold?: boolean };

function fakeFetch(connections: Connection[]) {
  const requests: { url: string; lastEventId: string | null }[] = [];
  const fn = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    requests.push({ url: String(url), lastEventId: headers.get('last-event-id') });
    const next = connections.shift();
    if (!next) return new Promise<Response>(() => {});
    if ('status' in next) {
      return new Response(next.body ?? null, {
        status: next.status,
        headers: { 'content-type': 'application/json' },
      });
    }
    const encoder = new TextEncoder();
    const pending = [...next.chunks];
    // Chunks are handed out on pull so that an error after them does not discard them.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        init?.signal?.addEventListener('abort', () => {
          try {
            controller.error(new DOMException('aborted', 'AbortError'));
          } catch {
            // already closed
          }
        });
      },
      pull(controller) {
        const chunk = pending.shift();
        if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
        else if (next.thenError) controller.error(new TypeError('network error'));
        else if (!next.hold) controller.close();
        else return new Promise<void>(() => {});
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  });
  return { fn: fn as unknown as typeof fetch, requests };
}

const event = (id: string, type: string, data: object) =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

async function until(check: () => boolean, ms = 3000) {
  await expect.poll(check, { timeout: ms, interval: 5 }).toBe(true);
}

describe('openEventStream', () => {
  afterEach(() => vi.useRealTimers());

  it('reconnects after a drop with Last-Event-ID, honours retry:, and drops replayed ids', async () => {
    const { fn, requests } = fakeFetch([
      {
        chunks: [
          'retry: 10\n\n',
          event('1-0', 'text.delta', { text: 'Hel' }),
          event('2-0', 'text.delta', { text: 'lo' }),
          'id: 3-0\nevent: text.de',
        ],
        thenError: true,
      },
      // The server replays 2-0 (e.g. a proxy retry); the client must not deliver it twice.
      { chunks: [event('2-0', 'text.delta', { text: 'lo' }), event('3-0', 'text.delta', { text: '!' })] },
      { chunks: [event('4-0', 'execution.completed', { status: 'succeeded' })] },
    ]);
    const received: SseMessage[] = [];
    const states: string[] = [];
    const stream = openEventStream({
      url: '/api/v1/executions/e1/events',
      fetch: fn,
      retryMs: 5_000,
      onMessage: (message) => received.push(message),
      isFinal: (message) => message.event === 'execution.completed',
      onStateChange: (state) => states.push(state),
    });
    await until(() => states.at(-1) === 'closed');
    expect(received.map((message) => message.id)).toEqual(['1-0', '2-0', '3-0', '4-0']);
    expect(received.map((message) => message.data)).toContain('{"text":"!"}');
    expect(requests.map((request) => request.lastEventId)).toEqual([null, '2-0', '3-0']);
    expect(stream.lastEventId).toBe('4-0');
    expect(states).toContain('reconnecting');
  });

  it('remembers only the last thousand delivered ids (memory stays bounded on long streams)', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => event(`${i + 1}-0`, 'output', { data: 'x' })).join(
      '',
    );
    const { fn } = fakeFetch([
      { chunks: [many], thenError: true },
      // A replay of the newest id is dropped; the oldest was forgotten, so it is delivered again.
      {
        chunks: [
          event('1001-0', 'output', { data: 'x' }),
          event('1-0', 'output', { data: 'x' }),
          event('1002-0', 'execution.completed', { status: 'succeeded' }),
        ],
      },
    ]);
    const received: string[] = [];
    const states: string[] = [];
    openEventStream({
      url: '/api/v1/executions/e1/events',
      fetch: fn,
      retryMs: 1,
      onMessage: (message) => received.push(message.id ?? ''),
      isFinal: (message) => message.event === 'execution.completed',
      onStateChange: (state) => states.push(state),
    });
    await until(() => states.at(-1) === 'closed');
    expect(received).toHaveLength(1003);
    expect(received.slice(-3)).toEqual(['1001-0', '1-0', '1002-0']);
  });

  it('starts from a given id and sends it on the first request', async () => {
    const { fn, requests } = fakeFetch([
      { chunks: [event('9-0', 'execution.cancelled', { status: 'cancelled' })] },
    ]);
    const received: string[] = [];
    openEventStream({
      url: '/x',
      fetch: fn,
      lastEventId: '8-3',
      onMessage: (message) => received.push(message.event),
      isFinal: (message) => message.event === 'execution.cancelled',
    });
    await until(() => received.length === 1);
    expect(requests[0]?.lastEventId).toBe('8-3');
  });

  it('stops on a client error and reports it, retries on 503', async () => {
    const { fn, requests } = fakeFetch([
      { status: 503, body: '{"error":{"code":"unavailable","message":"draining"}}' },
      { status: 404, body: '{"error":{"code":"not_found","message":"no such execution"}}' },
    ]);
    const errors: { status: number; code: string }[] = [];
    openEventStream({
      url: '/x',
      fetch: fn,
      retryMs: 5,
      onMessage: () => {},
      onFatalError: (error) => errors.push({ status: error.status, code: error.code }),
    });
    await until(() => errors.length === 1);
    expect(errors).toEqual([{ status: 404, code: 'not_found' }]);
    expect(requests).toHaveLength(2);
  });

  it('close() stops an open stream and any reconnect', async () => {
    const { fn, requests } = fakeFetch([{ chunks: [event('1-0', 'output', { data: 'x' })], hold: true }]);
    const received: string[] = [];
    const stream = openEventStream({
      url: '/x',
      fetch: fn,
      retryMs: 5,
      onMessage: (m) => received.push(m.id ?? ''),
    });
    await until(() => received.length === 1);
    stream.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests).toHaveLength(1);
  });
});

describe('openEventStream and 204', () => {
  it('stops for good when the server answers 204 No Content', async () => {
    const { fn, requests } = fakeFetch([{ status: 204 }]);
    let ended = false;
    openEventStream({
      url: '/x',
      fetch: fn,
      retryMs: 5,
      onMessage: () => {},
      onNoContent: () => (ended = true),
    });
    await until(() => ended);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(requests).toHaveLength(1);
  });
});
