import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the model providers: a real HTTP server that speaks the Anthropic Messages
 * API and the OpenAI chat-completions API (both streaming), answering from a script of turns. The
 * real provider clients talk to it over HTTP, so everything above the socket is exercised.
 */

/** One piece of a scripted answer. */
export type FakeBlock =
  | {
      type: 'text';
      text: string /** Split into deltas of this many characters (default 8). */;
      chunkSize?: number;
    }
  | {
      type: 'tool_call';
      name: string;
      /** Arguments as an object (serialised) or as raw text (to script malformed JSON). */
      input: Record<string, unknown> | string;
      id?: string;
    };

/** What the server answers to one model request. */
export type FakeTurn =
  | {
      kind?: 'reply';
      blocks: FakeBlock[];
      /** Wait before the first byte of the answer. */
      delayMs?: number;
      /** Wait between streamed chunks. */
      chunkDelayMs?: number;
      usage?: { inputTokens: number; outputTokens: number };
    }
  | {
      kind: 'error';
      status: number;
      message?: string;
      headers?: Record<string, string>;
      delayMs?: number;
    };

export interface RecordedRequest {
  api: 'anthropic' | 'openai';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  receivedAt: number;
}

/**
 * A list of turns is consumed in order (one per request; a request past the end gets a 500 that
 * says so); a function decides each answer from the request (for long-running scenarios).
 */
export type FakeScript = FakeTurn[] | ((request: RecordedRequest, index: number) => FakeTurn);

export interface FakeModelServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123 (APIs live under /v1). */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const defaultUsage = { inputTokens: 10, outputTokens: 5 };

export async function startFakeModelServer(
  script: FakeScript,
  options: { port?: number; host?: string } = {},
): Promise<FakeModelServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error) } }));
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const api = path.endsWith('/messages')
      ? 'anthropic'
      : path.endsWith('/chat/completions')
        ? 'openai'
        : null;
    if (req.method === 'GET' && (path === '/health' || path === '/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', requests: requests.length }));
      return;
    }
    if (req.method !== 'POST' || !api) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'request body is not JSON' } }));
      return;
    }
    const request: RecordedRequest = {
      api,
      method: req.method,
      path,
      headers: req.headers,
      body,
      receivedAt: Date.now(),
    };
    const index = requests.length;
    requests.push(request);
    const turn: FakeTurn | undefined = Array.isArray(script) ? script[index] : script(request, index);
    if (!turn) {
      await sendError(res, api, 500, `fake model script has no turn ${index + 1}`);
      return;
    }
    if (turn.delayMs) await sleep(turn.delayMs, res);
    if (res.destroyed) return;
    if (turn.kind === 'error') {
      await sendError(res, api, turn.status, turn.message ?? `scripted error ${turn.status}`, turn.headers);
      return;
    }
    if (body.stream !== true) {
      await sendError(res, api, 400, 'the fake model server only answers streaming requests');
      return;
    }
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    if (api === 'anthropic') await streamAnthropic(res, turn, model);
    else await streamOpenAi(res, turn, model, body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function sleep(ms: number, res?: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      res?.off('close', done);
      resolve();
    }
    res?.on('close', done);
  });
}

async function sendError(
  res: http.ServerResponse,
  api: 'anthropic' | 'openai',
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const anthropicType =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 429
          ? 'rate_limit_error'
          : status === 529
            ? 'overloaded_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
  const body =
    api === 'anthropic'
      ? { type: 'error', error: { type: anthropicType, message } }
      : { error: { message, type: anthropicType, code: String(status) } };
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function textChunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

function argumentText(input: Record<string, unknown> | string): string {
  return typeof input === 'string' ? input : JSON.stringify(input);
}

function newId(prefix: string): string {
  return `${prefix}${randomBytes(9).toString('hex')}`;
}

async function writeChunk(
  res: http.ServerResponse,
  text: string,
  delayMs: number | undefined,
): Promise<boolean> {
  if (res.destroyed) return false;
  res.write(text);
  if (delayMs) await sleep(delayMs, res);
  return !res.destroyed;
}

type ReplyTurn = Extract<FakeTurn, { blocks: FakeBlock[] }>;

async function streamAnthropic(res: http.ServerResponse, turn: ReplyTurn, model: string): Promise<void> {
  const usage = turn.usage ?? defaultUsage;
  const delay = turn.chunkDelayMs;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (type: string, data: Record<string, unknown>) =>
    writeChunk(res, `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`, delay);

  if (
    !(await event('message_start', {
      message: {
        id: newId('msg_'),
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: usage.inputTokens, output_tokens: 1 },
      },
    }))
  )
    return;
  let hasToolUse = false;
  for (const [index, block] of turn.blocks.entries()) {
    if (block.type === 'text') {
      if (!(await event('content_block_start', { index, content_block: { type: 'text', text: '' } }))) return;
      for (const piece of textChunks(block.text, block.chunkSize ?? 8)) {
        if (!(await event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } })))
          return;
      }
    } else {
      hasToolUse = true;
      const start = {
        index,
        content_block: { type: 'tool_use', id: block.id ?? newId('toolu_'), name: block.name, input: {} },
      };
      if (!(await event('content_block_start', start))) return;
      for (const piece of textChunks(argumentText(block.input), 16)) {
        if (
          !(await event('content_block_delta', {
            index,
            delta: { type: 'input_json_delta', partial_json: piece },
          }))
        )
          return;
      }
    }
    if (!(await event('content_block_stop', { index }))) return;
  }
  if (
    !(await event('message_delta', {
      delta: { stop_reason: hasToolUse ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    }))
  )
    return;
  await event('message_stop', {});
  res.end();
}

async function streamOpenAi(
  res: http.ServerResponse,
  turn: ReplyTurn,
  model: string,
  body: Record<string, unknown>,
): Promise<void> {
  const usage = turn.usage ?? defaultUsage;
  const delay = turn.chunkDelayMs;
  const id = newId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    writeChunk(
      res,
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`,
      delay,
    );

  if (!(await chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]))) return;
  let toolIndex = 0;
  for (const block of turn.blocks) {
    if (block.type === 'text') {
      for (const piece of textChunks(block.text, block.chunkSize ?? 8)) {
        if (!(await chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]))) return;
      }
    } else {
      const index = toolIndex++;
      const first = {
        tool_calls: [
          {
            index,
            id: block.id ?? newId('call_'),
            type: 'function',
            function: { name: block.name, arguments: '' },
          },
        ],
      };
      if (!(await chunk([{ index: 0, delta: first, finish_reason: null }]))) return;
      for (const piece of textChunks(argumentText(block.input), 16)) {
        const delta = { tool_calls: [{ index, function: { arguments: piece } }] };
        if (!(await chunk([{ index: 0, delta, finish_reason: null }]))) return;
      }
    }
  }
  const finishReason = toolIndex > 0 ? 'tool_calls' : 'stop';
  if (!(await chunk([{ index: 0, delta: {}, finish_reason: finishReason }]))) return;
  const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
  if (streamOptions?.include_usage) {
    const u = {
      prompt_tokens: usage.inputTokens,
      completion_tokens: usage.outputTokens,
      total_tokens: usage.inputTokens + usage.outputTokens,
    };
    if (!(await chunk([], { usage: u }))) return;
  }
  await writeChunk(res, 'data: [DONE]\n\n', undefined);
  res.end();
}
