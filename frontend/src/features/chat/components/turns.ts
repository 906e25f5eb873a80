import type { Execution, Message, TranscriptItem } from '../../../lib';

export interface Turn {
  key: string;
  executionId: string | null;
  user: Message | null;
  replies: Message[];
}

/** Which execution answers each user message (the execution's `input.messageId`). */
export function executionOfMessages(executions: readonly Execution[]): Map<string, string> {
  const executionOfMessage = new Map<string, string>();
  for (const execution of executions) {
    if ('messageId' in execution.input) executionOfMessage.set(execution.input.messageId, execution.id);
  }
  return executionOfMessage;
}

/**
 * Groups the stored messages into turns: a user message and what its execution answered. The
 * user message is stored before its execution exists, so it is matched through the execution's
 * `input.messageId`.
 */
export function toTurns(messages: Message[], executionOfMessage: Map<string, string>): Turn[] {
  const turns: Turn[] = [];
  for (const message of messages) {
    const last = turns.at(-1);
    if (message.role === 'user') {
      const executionId = message.executionId ?? executionOfMessage.get(message.id) ?? null;
      turns.push({ key: message.id, executionId, user: message, replies: [] });
    } else if (last && (last.executionId === null || last.executionId === message.executionId)) {
      last.executionId ??= message.executionId;
      last.replies.push(message);
    } else {
      turns.push({ key: message.id, executionId: message.executionId, user: null, replies: [message] });
    }
  }
  return turns;
}

/** Stored reply messages as the same items the live stream produces. */
export function storedItems(replies: Message[]): TranscriptItem[] {
  const items: TranscriptItem[] = [];
  const results = new Map<string, { output: unknown; isError: boolean }>();
  for (const message of replies) {
    for (const part of message.parts) {
      if (part.type === 'tool-result')
        results.set(part.toolCallId, { output: part.output, isError: part.isError === true });
    }
  }
  for (const message of replies) {
    for (const part of message.parts) {
      if (part.type === 'text' && part.text) items.push({ kind: 'text', attempt: 0, text: part.text });
      if (part.type === 'tool-call') {
        const result = results.get(part.toolCallId);
        items.push({
          kind: 'tool',
          attempt: 0,
          toolCallId: part.toolCallId,
          toolName: part.toolName,
          input: part.input,
          ...(result ? { output: result.output, isError: result.isError } : {}),
          done: Boolean(result),
        });
      }
    }
  }
  return items;
}

/** The text of a message's text parts, as the person wrote or the agent answered it. */
export function messageText(message: Message): string {
  return message.parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/** The text a turn's replies showed, for copying. */
export function replyText(items: TranscriptItem[]): string {
  return items
    .map((item) => (item.kind === 'text' ? item.text : ''))
    .filter(Boolean)
    .join('\n\n');
}
