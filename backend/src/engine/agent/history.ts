import type { JSONValue, ModelMessage, TextPart, ToolCallPart, ToolResultPart } from 'ai';
import type { Message, MessagePart, MessageRepository } from '../../store/types.js';

/**
 * The session's earlier messages as model messages. Stored messages keep the providers' shape
 * (text, tool-call and tool-result parts), so conversion is direct; what a provider would refuse
 * — a tool call without its result (a turn cut short), a result without its call — is left out.
 */

export interface HistoryLimits {
  maxMessages: number;
  maxChars: number;
}

/**
 * The session's messages up to and including `throughId` (the message that started the turn; later
 * ones belong to later turns), cut to a window: the newest `maxMessages`, of which the oldest are
 * left out until the rest fits `maxChars`, opening at a user message so the model sees whole
 * exchanges. The newest message is always kept. A long session so keeps a steady cost per turn
 * instead of outgrowing the model's context, and the worker's memory, turn by turn.
 */
export async function loadTurnHistory(
  messages: MessageRepository,
  sessionId: string,
  throughId: string | undefined,
  limits: HistoryLimits,
): Promise<Message[]> {
  const newest = await messages.latest(sessionId, limits.maxMessages, throughId);
  let start = newest.length;
  let chars = 0;
  while (start > 0) {
    chars += JSON.stringify(newest[start - 1]!.parts).length;
    if (chars > limits.maxChars && start < newest.length) break;
    start--;
  }
  while (start < newest.length - 1 && newest[start]!.role !== 'user') start++;
  return newest.slice(start);
}

function jsonValue(value: unknown): JSONValue {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as JSONValue;
  } catch {
    return String(value);
  }
}

function toolInput(input: unknown): Record<string, unknown> {
  // Malformed arguments are stored as the model sent them (a string); providers want an object.
  return typeof input === 'object' && input !== null && !Array.isArray(input)
    ? (input as Record<string, unknown>)
    : {};
}

export function toModelMessages(history: readonly Message[]): ModelMessage[] {
  const results = new Set<string>();
  const calls = new Set<string>();
  for (const message of history) {
    for (const part of message.parts) {
      if (part.type === 'tool-result') results.add(part.toolCallId);
      if (part.type === 'tool-call') calls.add(part.toolCallId);
    }
  }
  const out: ModelMessage[] = [];
  for (const message of history) {
    if (message.role === 'user') {
      const text = textOf(message.parts);
      if (text) out.push({ role: 'user', content: text });
    } else if (message.role === 'assistant') {
      const content = message.parts.flatMap((part): (TextPart | ToolCallPart)[] => {
        if (part.type === 'text' && part.text) return [{ type: 'text' as const, text: part.text }];
        if (part.type === 'tool-call' && results.has(part.toolCallId))
          return [
            {
              type: 'tool-call' as const,
              toolCallId: part.toolCallId,
              toolName: part.toolName,
              input: toolInput(part.input),
            },
          ];
        return [];
      });
      if (content.length > 0) out.push({ role: 'assistant', content });
    } else {
      const content = message.parts.flatMap((part): ToolResultPart[] =>
        part.type === 'tool-result' && calls.has(part.toolCallId)
          ? [
              {
                type: 'tool-result' as const,
                toolCallId: part.toolCallId,
                toolName: part.toolName,
                output: part.isError
                  ? {
                      type: 'error-text' as const,
                      value: typeof part.output === 'string' ? part.output : JSON.stringify(part.output),
                    }
                  : typeof part.output === 'string'
                    ? { type: 'text' as const, value: part.output }
                    : { type: 'json' as const, value: jsonValue(part.output) },
              },
            ]
          : [],
      );
      if (content.length > 0) out.push({ role: 'tool', content });
    }
  }
  return out;
}

function textOf(parts: readonly MessagePart[]): string {
  return parts
    .filter((p): p is Extract<MessagePart, { type: 'text' }> => p.type === 'text')
    .map((p) => p.text)
    .join('');
}
