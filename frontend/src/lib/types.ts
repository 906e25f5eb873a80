/** Records of the API (docs/api.md; shapes of backend/src/store/types.ts). */

export type ExecutionKind = 'script' | 'agent';
export type ExecutionStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
export const terminalStatuses: readonly ExecutionStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
export type ScriptLanguage = 'javascript' | 'typescript' | 'shell' | 'python';
export type Isolation = 'bwrap' | 'process';

export interface User {
  id: string;
  name: string;
  isAdmin: boolean;
  createdAt: string;
}

export interface Me {
  user: User;
  quota: { usedBytes: number; limitBytes: number };
  platform: { isolation: Isolation | string; languages: ScriptLanguage[]; version: string };
}

export interface ApiTokenInfo {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Session {
  id: string;
  userId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export type MessagePart =
  | { type: 'text'; text: string }
  | { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown }
  | { type: 'tool-result'; toolCallId: string; toolName: string; output: unknown; isError?: boolean };

export interface Message {
  id: string;
  sessionId: string;
  executionId: string | null;
  role: 'user' | 'assistant' | 'tool';
  parts: MessagePart[];
  createdAt: string;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface Execution {
  id: string;
  userId: string;
  sessionId: string | null;
  kind: ExecutionKind;
  status: ExecutionStatus;
  input: { language: ScriptLanguage; code: string; input?: unknown } | { messageId: string; text: string };
  result: unknown;
  error: { code: string; message: string } | null;
  usage: TokenUsage | null;
  attempt: number;
  workerId: string | null;
  cancelRequested: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface StoredFile {
  userId: string;
  path: string;
  size: number;
  sha256: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface WorkerHeartbeat {
  workerId: string;
  hostname: string;
  pid: number;
  startedAt: string;
  at: string;
  isolation: Isolation;
  concurrency: number;
  running: number;
  draining: boolean;
  pool: Record<string, number>;
}

export interface AdminStats {
  queue: QueueCounts;
  executions: {
    byStatus: Record<ExecutionStatus, number>;
    perMinute: { minute: string; succeeded: number; failed: number }[];
  };
  workers: WorkerHeartbeat[];
}
