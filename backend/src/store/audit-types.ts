/** The audit log's contract: who changed what, for admins (re-exported by `types.ts`). */
import type { Page, PageRequest } from './types.js';

export interface AuditEntry {
  id: string;
  actorId: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  at: string;
}

export interface AuditRepository {
  record(entry: {
    actorId: string | null;
    action: string;
    target?: string | null;
    details?: Record<string, unknown>;
  }): Promise<void>;
  /** Newest first, narrowed by every filter given. */
  list(page?: PageRequest & AuditFilter): Promise<Page<AuditEntry>>;
}

export interface AuditFilter {
  actorId?: string;
  /** Exact action name (`user.create`), or a prefix ending in a dot (`user.`). */
  action?: string;
  /** Inclusive lower bound, ISO 8601. */
  from?: string;
  /** Exclusive upper bound, ISO 8601. */
  to?: string;
}
