/**
 * Records of the API (docs/api.md). The record shapes are the backend's own (type-only imports:
 * nothing of the backend is bundled); what only the web app uses is declared here.
 */
export type { QueueCounts, WorkerHeartbeat } from '../../../backend/src/queue/types.js';
export type {
  ApiTokenInfo,
  AuditEntry,
  Execution,
  ExecutionKind,
  ExecutionStatus,
  Message,
  MessagePart,
  MinuteFigures,
  ScriptLanguage,
  Session,
  StoredFile,
  TokenUsage,
  User,
} from '../../../backend/src/store/types.js';

import type { QueueCounts, WorkerHeartbeat } from '../../../backend/src/queue/types.js';
import type {
  ExecutionStatus,
  MinuteFigures,
  ScriptLanguage,
  User,
} from '../../../backend/src/store/types.js';

export const terminalStatuses: readonly ExecutionStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
export type { IsolationLevel as Isolation } from '../../../backend/src/lib/vocabulary.js';

import type { IsolationLevel as Isolation } from '../../../backend/src/lib/vocabulary.js';

export interface Me {
  user: User;
  quota: { usedBytes: number; limitBytes: number };
  platform: {
    isolation: Isolation | string;
    languages: ScriptLanguage[];
    /** shared: sandboxes share one uid (a non-root worker); separate: one uid per live sandbox. */
    sandboxUids?: 'separate' | 'shared';
    version: string;
    /** Whether sandboxes reach the network only through the egress proxy (bwrap level). */
    egress?: { enforced: boolean; allow: string[]; note: string };
    /** False when no model provider is configured: chat cannot answer yet. */
    modelConfigured?: boolean;
  };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AdminStats {
  queue: QueueCounts;
  executions: {
    byStatus: Record<ExecutionStatus, number>;
    perMinute: MinuteFigures[];
  };
  workers: WorkerHeartbeat[];
}
