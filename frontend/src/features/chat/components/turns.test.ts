import { describe, expect, it } from 'vitest';
import type { Execution, Message } from '../../../lib';
import { executionOfMessages, storedItems, toTurns } from './turns';

const at = '2026-05-01T10:00:00Z';
const message = (
  id: string,
  role: Message['role'],
  executionId: string | null,
  parts: Message['parts'] = [],
) => ({ id, sessionId: 's1', executionId, role, parts, createdAt: at }) as Message;
const agentRun = (id: string, messageId: string) =>
  ({ id, kind: 'agent', input: { messageId, text: 'hi' } }) as unknown as Execution;

describe('executionOfMessages', () => {
  it('maps each user message to the execution that answers it; scripts are left out', () => {
    const script = { id: 'x', kind: 'script', input: { language: 'javascript', code: '1' } } as Execution;
    expect(executionOfMessages([agentRun('e1', 'm1'), script, agentRun('e2', 'm3')])).toEqual(
      new Map([
        ['m1', 'e1'],
        ['m3', 'e2'],
      ]),
    );
  });
});

describe('toTurns', () => {
  it('groups user messages with their replies, matching a user message through its execution', () => {
    const messages = [
      message('m1', 'user', null),
      message('m2', 'assistant', 'e1'),
      message('m3', 'tool', 'e1'),
      message('m4', 'user', null),
      message('m5', 'assistant', 'e2'),
    ];
    const turns = toTurns(messages, new Map([['m1', 'e1']]));
    expect(turns.map((t) => [t.key, t.executionId, t.user?.id ?? null, t.replies.map((r) => r.id)])).toEqual([
      ['m1', 'e1', 'm1', ['m2', 'm3']],
      // Its execution is not known yet: the first reply names it.
      ['m4', 'e2', 'm4', ['m5']],
    ]);
  });

  it('starts a turn without a user message for replies of another execution', () => {
    const turns = toTurns([message('m1', 'user', 'e1'), message('m2', 'assistant', 'e9')], new Map());
    expect(turns.map((t) => [t.key, t.executionId, t.user?.id ?? null])).toEqual([
      ['m1', 'e1', 'm1'],
      ['m2', 'e9', null],
    ]);
  });
});

describe('storedItems', () => {
  it('turns stored replies into transcript items, each tool call joined with its result', () => {
    const items = storedItems([
      message('m2', 'assistant', 'e1', [
        { type: 'text', text: 'Looking.' },
        { type: 'tool-call', toolCallId: 't1', toolName: 'list_files', input: { dir: 'uploads' } },
        { type: 'tool-call', toolCallId: 't2', toolName: 'read_file', input: { path: 'x' } },
      ]),
      message('m3', 'tool', 'e1', [
        { type: 'tool-result', toolCallId: 't1', toolName: 'list_files', output: ['a.txt'], isError: false },
      ]),
    ]);
    expect(items).toEqual([
      { kind: 'text', attempt: 0, text: 'Looking.' },
      {
        kind: 'tool',
        attempt: 0,
        toolCallId: 't1',
        toolName: 'list_files',
        input: { dir: 'uploads' },
        output: ['a.txt'],
        isError: false,
        done: true,
      },
      {
        kind: 'tool',
        attempt: 0,
        toolCallId: 't2',
        toolName: 'read_file',
        input: { path: 'x' },
        done: false,
      },
    ]);
  });
});
