import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadTurnHistory, toModelMessages } from '../../src/engine/agent/history.js';
import type { MessagePart, MessageRole } from '../../src/store/types.js';
import { memoryMessages } from './support/doubles.js';

const sessionId = randomUUID();

async function conversation(turns: number, textChars = 10) {
  const messages = memoryMessages();
  const add = (role: MessageRole, parts: MessagePart[]) => messages.append({ sessionId, role, parts });
  for (let i = 0; i < turns; i++) {
    await add('user', [{ type: 'text', text: `q${i} ${'x'.repeat(textChars)}` }]);
    await add('assistant', [{ type: 'tool-call', toolCallId: `c${i}`, toolName: 'list_files', input: {} }]);
    await add('tool', [{ type: 'tool-result', toolCallId: `c${i}`, toolName: 'list_files', output: [] }]);
    await add('assistant', [{ type: 'text', text: `a${i}` }]);
  }
  return messages;
}

const texts = (history: { parts: MessagePart[] }[]) =>
  history.map((m) => m.parts.map((p) => (p.type === 'text' ? p.text.split(' ')[0] : p.type)).join());

describe('the history window of an agent turn', () => {
  it('keeps the whole session while it fits', async () => {
    const messages = await conversation(3);
    const history = await loadTurnHistory(messages, sessionId, undefined, {
      maxMessages: 100,
      maxChars: 1e6,
    });
    expect(history).toEqual(messages.all);
  });

  it('opens at a user message when the message limit cuts into an exchange', async () => {
    const messages = await conversation(5);
    const history = await loadTurnHistory(messages, sessionId, undefined, { maxMessages: 6, maxChars: 1e6 });
    // The newest 6 begin with a tool call and its result, half an exchange: they are left out.
    expect(texts(history)).toEqual(['q4', 'tool-call', 'tool-result', 'a4']);
    expect(toModelMessages(history).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  });

  it('leaves out the oldest messages beyond the size budget', async () => {
    const messages = await conversation(10, 1000);
    const history = await loadTurnHistory(messages, sessionId, undefined, {
      maxMessages: 100,
      maxChars: 3500,
    });
    expect(texts(history)).toEqual(
      ['q8', 'tool-call', 'tool-result', 'a8', 'q9', 'tool-call', 'tool-result', 'a9'].map(String),
    );
  });

  it("ends at the turn's own message and always keeps it, however large", async () => {
    const messages = await conversation(4);
    const through = messages.all[8]!; // q2
    const history = await loadTurnHistory(messages, sessionId, through.id, {
      maxMessages: 100,
      maxChars: 1e6,
    });
    expect(history.at(-1)).toEqual(through);
    expect(history).toHaveLength(9);
    const big = await messages.append({
      sessionId,
      role: 'user',
      parts: [{ type: 'text', text: 'y'.repeat(5000) }],
    });
    expect(await loadTurnHistory(messages, sessionId, big.id, { maxMessages: 100, maxChars: 1000 })).toEqual([
      big,
    ]);
  });
});
