import type { FakeScript, FakeTurn, RecordedRequest } from './server.js';

/**
 * Named, stateless scenarios for long-running use (the web app's end-to-end tests, the
 * reliability harness): each answer depends only on the request, so any number of
 * conversations can run through one server at once.
 */

type Message = { role?: string; content?: unknown };

function messagesOf(request: RecordedRequest): Message[] {
  return Array.isArray(request.body.messages) ? (request.body.messages as Message[]) : [];
}

/** True when the request's last message carries tool results (the model's previous step called tools). */
export function endsWithToolResult(request: RecordedRequest): boolean {
  const last = messagesOf(request).at(-1);
  return last ? isToolResultMessage(last) : false;
}

/** Model steps already taken in this turn: assistant messages since the last plain user message. */
export function toolRounds(request: RecordedRequest): number {
  let rounds = 0;
  for (const message of [...messagesOf(request)].reverse()) {
    if (message.role === 'assistant') rounds++;
    else if (message.role === 'user' && !isToolResultMessage(message)) break;
  }
  return rounds;
}

function isToolResultMessage(message: Message): boolean {
  return (
    message.role === 'tool' ||
    (Array.isArray(message.content) &&
      message.content.some((part) => (part as { type?: string }).type === 'tool_result'))
  );
}

/** Text of the last plain user message. */
export function lastUserText(request: RecordedRequest): string {
  for (const message of [...messagesOf(request)].reverse()) {
    if (message.role !== 'user' || isToolResultMessage(message)) continue;
    if (typeof message.content === 'string') return message.content;
    if (Array.isArray(message.content)) {
      const texts = message.content
        .filter((part) => (part as { type?: string }).type === 'text')
        .map((part) => String((part as { text?: unknown }).text ?? ''));
      if (texts.length > 0) return texts.join('');
    }
  }
  return '';
}

/** Text of the newest tool result in the request (either API). */
export function lastToolResultText(request: RecordedRequest): string {
  const last = messagesOf(request).at(-1);
  if (!last) return '';
  if (last.role === 'tool')
    return typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
  if (Array.isArray(last.content)) {
    const result = last.content.find((part) => (part as { type?: string }).type === 'tool_result') as
      | { content?: unknown }
      | undefined;
    if (!result) return '';
    if (typeof result.content === 'string') return result.content;
    if (Array.isArray(result.content))
      return result.content.map((p) => String((p as { text?: unknown }).text ?? '')).join('');
  }
  return '';
}

function text(textValue: string, extra: Partial<Extract<FakeTurn, { blocks: unknown }>> = {}): FakeTurn {
  return { blocks: [{ type: 'text', text: textValue }], ...extra };
}

export const scenarios: Record<string, { description: string; script: FakeScript }> = {
  'echo-with-tool': {
    description:
      'Writes the user message to outputs/echo.txt with write_file, then answers with a sentence naming the file.',
    script: (request) =>
      endsWithToolResult(request)
        ? text(`I saved your message to outputs/echo.txt. You said: ${lastUserText(request)}`)
        : {
            blocks: [
              { type: 'text', text: 'Let me save that. ' },
              {
                type: 'tool_call',
                name: 'write_file',
                input: { path: 'outputs/echo.txt', content: lastUserText(request) },
              },
            ],
          },
  },
  'write-then-read': {
    description: 'write_file outputs/note.txt, then read_file it, then answers with what it read.',
    script: (request) => {
      const rounds = toolRounds(request);
      if (rounds === 0)
        return {
          blocks: [
            {
              type: 'tool_call',
              name: 'write_file',
              input: { path: 'outputs/note.txt', content: lastUserText(request) },
            },
          ],
        };
      if (rounds === 1)
        return { blocks: [{ type: 'tool_call', name: 'read_file', input: { path: 'outputs/note.txt' } }] };
      return text(`The note says: ${lastToolResultText(request)}`);
    },
  },
  'read-file': {
    description: 'Reads the file named in the user message with read_file and answers with its content.',
    script: (request) =>
      endsWithToolResult(request)
        ? text(`File content: ${lastToolResultText(request)}`)
        : {
            blocks: [{ type: 'tool_call', name: 'read_file', input: { path: lastUserText(request).trim() } }],
          },
  },
  'slow-stream': {
    description: 'Streams a long answer slowly (about 100 ms per word for 30 s), for cancel tests.',
    script: () => ({
      blocks: [{ type: 'text', text: 'word '.repeat(300), chunkSize: 5 }],
      chunkDelayMs: 100,
    }),
  },
  hello: {
    description: 'Answers with one short sentence.',
    script: () => text('Hello from the fake model.'),
  },
  'auth-error': {
    description: 'Every request fails with 401 (a wrong API key).',
    script: () => ({ kind: 'error', status: 401, message: 'invalid x-api-key' }),
  },
  'rate-limited-once': {
    description: 'Every other request fails with 429 (retry-after 0), the retry succeeds.',
    script: (_request, index) =>
      index % 2 === 0
        ? { kind: 'error', status: 429, message: 'rate limited', headers: { 'retry-after': '0' } }
        : text('Answered after a rate limit.'),
  },
};
