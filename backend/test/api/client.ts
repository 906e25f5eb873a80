/** A small HTTP client for the API tests: real requests over a real socket. */

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  json: any;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string, Uint8Array or FormData (sent as is). */
  body?: unknown;
}

export async function request(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | Uint8Array | FormData | undefined;
  if (
    options.body instanceof FormData ||
    options.body instanceof Uint8Array ||
    typeof options.body === 'string'
  ) {
    body = options.body;
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Binds a base URL and (optionally) a token. */
export function clientFor(baseUrl: string, token?: string) {
  const call =
    (method: string) =>
    (path: string, options: RequestOptions = {}) =>
      request(baseUrl, method, path, { token, ...options });
  return {
    get: call('GET'),
    post: call('POST'),
    put: call('PUT'),
    patch: call('PATCH'),
    delete: call('DELETE'),
  };
}

export interface SseMessage {
  id?: string;
  event?: string;
  // biome-ignore lint/suspicious/noExplicitAny: event payloads are arbitrary JSON
  data?: any;
  retry?: number;
  comment?: string;
}

/**
 * An open SSE connection. `next()` resolves with the next message (comments and `retry:` lines
 * included) or null when the server has closed the stream.
 */
export interface SseConnection {
  status: number;
  headers: Headers;
  next(timeoutMs?: number): Promise<SseMessage | null>;
  /** Drops the connection from the client side, as a network failure would. */
  drop(): void;
}

function parseBlock(block: string): SseMessage {
  const message: SseMessage = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      message.comment = line.slice(1).trim();
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') message.id = value;
    else if (field === 'event') message.event = value;
    else if (field === 'data') message.data = JSON.parse(value);
    else if (field === 'retry') message.retry = Number(value);
  }
  return message;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = !reader;

  const next = async (timeoutMs = 5000): Promise<SseMessage | null> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return parseBlock(block);
      }
      if (ended || !reader) return null;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('no SSE message in time');
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), remaining);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk === 'timeout') throw new Error('no SSE message in time');
      if (chunk.done) {
        ended = true;
        continue;
      }
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  };

  return {
    status: response.status,
    headers: response.headers,
    next,
    drop: () => {
      ended = true;
      controller.abort();
    },
  };
}

/** Reads messages until the server closes the stream; returns the events (comments left out). */
export async function readUntilClosed(connection: SseConnection, timeoutMs = 5000): Promise<SseMessage[]> {
  const events: SseMessage[] = [];
  for (;;) {
    const message = await connection.next(timeoutMs);
    if (message === null) return events;
    if (message.event !== undefined) events.push(message);
  }
}
