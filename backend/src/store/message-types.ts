/** A session's messages and their repository (re-exported by `types.ts`). */
import type { Page, PageRequest } from './types.js';

export type MessageRole = 'user' | 'assistant' | 'tool';

/** Message content is a list of parts, close to the model providers' own shape. */
export type MessagePart =
  | { type: 'text'; text: string }
  | { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown }
  | { type: 'tool-result'; toolCallId: string; toolName: string; output: unknown; isError?: boolean };

export interface Message {
  id: string;
  sessionId: string;
  executionId: string | null;
  role: MessageRole;
  parts: MessagePart[];
  createdAt: string;
}

export interface MessageRepository {
  append(input: {
    sessionId: string;
    executionId?: string | null;
    role: MessageRole;
    parts: MessagePart[];
  }): Promise<Message>;
  /** Oldest first. */
  list(sessionId: string, page?: PageRequest): Promise<Page<Message>>;
  /**
   * The newest `limit` messages of a session, oldest first; with `throughId`, the newest up to and
   * including that message (all of them when it is not in the session).
   */
  latest(sessionId: string, limit: number, throughId?: string): Promise<Message[]>;
  /** Removes what an abandoned attempt of an execution stored, so a re-run starts clean. */
  deleteByExecution(executionId: string, roles: MessageRole[]): Promise<number>;
}
