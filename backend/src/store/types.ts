import type { ScriptLanguage } from '../lib/vocabulary.js';
import type {
  AutomationRepository,
  ScheduleRepository,
  WebhookTriggerRepository,
} from './automation-types.js';

export * from './audit-types.js';
export * from './automation-types.js';
export * from './egress-types.js';
export * from './file-types.js';
export * from './message-types.js';

import type { AuditRepository } from './audit-types.js';
import type { EgressRepository } from './egress-types.js';
import type { FileRepository } from './file-types.js';
import type { MessageRepository } from './message-types.js';

/**
 * The platform's records and the repositories that keep them. Both database drivers (PostgreSQL
 * through `pg`, PGlite) sit behind `Database`; repositories speak plain SQL through it and know
 * nothing of the driver.
 */

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `work` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Resolves when the database answers; rejects (within a few seconds) when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type ExecutionKind = 'script' | 'agent';
/** `skipped`: a scheduled run that was never admitted (the reason is in `error`). */
export type ExecutionStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'timed_out'
  | 'skipped';
export const terminalStatuses: readonly ExecutionStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'skipped',
];
/** What started an execution of an automation. */
export type RunTrigger = 'manual' | 'api' | 'schedule' | 'webhook';
export const runTriggers: readonly RunTrigger[] = ['manual', 'api', 'schedule', 'webhook'];
/** The statuses an execution ends in; once written, never changed. */
export type TerminalStatus = Exclude<ExecutionStatus, 'queued' | 'running'>;
/** The statuses a run that started ends in (a `skipped` run never starts). */
export type FinishedStatus = Exclude<TerminalStatus, 'skipped'>;
export type { ScriptLanguage };

export interface User {
  id: string;
  name: string;
  isAdmin: boolean;
  createdAt: string;
}

export interface ApiTokenInfo {
  id: string;
  userId: string;
  name: string;
  /** First characters of the token, safe to show ("ipa_AbC1…"). */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** When the token stops working by itself (browser sign-in sessions); null: never. */
  expiresAt: string | null;
  /** `api`: a token a person or program presents; `signin`: a browser's session cookie. */
  kind: TokenKind;
  /** For a sign-in, the browser and system it came from ("Chrome on Linux"); else null. */
  device: string | null;
}

export type TokenKind = 'api' | 'signin';

export interface Session {
  id: string;
  userId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export interface ScriptInput {
  language: ScriptLanguage;
  code: string;
  /** JSON value handed to the script. */
  input?: unknown;
}

export interface AgentInput {
  /** The user message that started the turn. */
  messageId: string;
  text: string;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ExecutionError {
  code: string;
  message: string;
  /** A script error's place in the user's own code (1-based), when the runtime knows it. */
  line?: number;
  column?: number;
}

export interface Execution {
  id: string;
  userId: string;
  sessionId: string | null;
  kind: ExecutionKind;
  status: ExecutionStatus;
  input: ScriptInput | AgentInput;
  result: unknown;
  error: ExecutionError | null;
  usage: TokenUsage | null;
  /** Attempt that is (or was last) running; 0 while queued the first time. */
  attempt: number;
  workerId: string | null;
  cancelRequested: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** The automation and version this run ran (null: an ad-hoc script or an agent turn). */
  automationId: string | null;
  automationVersion: number | null;
  trigger: RunTrigger | null;
  /** The schedule or webhook trigger that started it. */
  triggerId: string | null;
  /** The schedule tick this run belongs to. */
  scheduledFor: string | null;
}

/** How a run of an automation is linked to it (`ExecutionRepository.create`). */
export interface RunOrigin {
  automationId: string;
  automationVersion: number;
  trigger: RunTrigger;
  triggerId?: string | null;
  scheduledFor?: string | null;
}

export interface StoredFile {
  userId: string;
  /** Relative to the user's root, always under uploads/, workspace/ or outputs/. */
  path: string;
  size: number;
  sha256: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, null on the last one. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface UserRepository {
  create(input: { name: string; isAdmin?: boolean }): Promise<User>;
  get(id: string): Promise<User | null>;
  list(page?: PageRequest): Promise<Page<User>>;
  /** The user's sandbox reset generation (0 for a user who never reset; 0 for an unknown user). */
  sandboxGeneration(id: string): Promise<number>;
  /**
   * What a worker's file sync checks before an execution, in one statement: the reset generation
   * and the files revision (moved by every change to the user's stored files); zeros for an
   * unknown user.
   */
  syncState(id: string): Promise<{ generation: number; filesRevision: number }>;
  /** Moves the reset generation on and returns it; null for an unknown user. */
  resetSandbox(id: string): Promise<number | null>;
}

export interface TokenRepository {
  /**
   * Issues a new token; the plaintext is returned once and only its hash is stored. With
   * `expiresInSeconds` it stops working by itself after that time.
   */
  issue(
    userId: string,
    name: string,
    options?: { expiresInSeconds?: number; kind?: TokenKind; device?: string | null },
  ): Promise<{ token: string; info: ApiTokenInfo }>;
  /** Stores a known plaintext token (the admin bootstrap token); idempotent. */
  ensure(userId: string, name: string, token: string): Promise<ApiTokenInfo>;
  /** The user behind a plaintext token, or null for an unknown, revoked or expired one. */
  authenticate(token: string): Promise<{ user: User; tokenId: string } | null>;
  /** Oldest first; only tokens of `kind` when given. */
  list(userId: string, options?: { kind?: TokenKind }): Promise<ApiTokenInfo[]>;
  /** Returns false when no such token of that user exists. */
  revoke(userId: string, tokenId: string): Promise<boolean>;
  /**
   * Deletes the user's expiring tokens that have ended (expired or revoked), so browser sign-ins
   * do not pile up; tokens without an expiry are kept, revoked or not. Returns how many went.
   */
  deleteEnded(userId: string): Promise<number>;
}

export interface SessionRepository {
  create(userId: string, title: string): Promise<Session>;
  /**
   * Newest first; with `q`, only sessions whose title or a message's text contains it
   * (case-insensitive, taken literally).
   */
  list(userId: string, page?: PageRequest & { q?: string }): Promise<Page<Session>>;
  /** Null when it does not exist or belongs to another user. */
  get(userId: string, id: string): Promise<Session | null>;
  rename(userId: string, id: string, title: string): Promise<Session | null>;
  /** Deletes the session and its messages; returns false when not found. */
  delete(userId: string, id: string): Promise<boolean>;
}

export interface ExecutionFilter extends PageRequest {
  status?: ExecutionStatus;
  sessionId?: string;
  kind?: ExecutionKind;
  automationId?: string;
  trigger?: RunTrigger;
}

export interface NewExecution {
  userId: string;
  sessionId?: string | null;
  kind: ExecutionKind;
  input: ScriptInput | AgentInput;
  /** The automation run this is; its automation must belong to the same user. */
  origin?: RunOrigin;
  /** Recorded as `skipped` with this reason instead of queued (never runs). */
  skipped?: ExecutionError;
}

/** An unfinished execution as the queue reconciler sees it. */
export interface UnfinishedExecution {
  id: string;
  userId: string;
  kind: ExecutionKind;
  status: 'queued' | 'running';
  createdAt: string;
}

export interface ExecutionRepository {
  /**
   * Inserts a queued execution. With `maxActive`, it is admitted only while the user has fewer
   * than that many queued or running executions, checked and inserted under a per-user
   * transaction-scoped advisory lock so that racing admissions on any number of connections or
   * replicas never pass the limit; a refusal throws `ConcurrencyLimitError` and writes nothing.
   */
  create(input: NewExecution, options?: { maxActive?: number }): Promise<Execution>;
  /** Queued + running executions started by one schedule or webhook trigger. */
  countActiveForTrigger(triggerId: string): Promise<number>;
  /** With a userId, null unless the execution belongs to that user. */
  get(id: string, userId?: string): Promise<Execution | null>;
  /** Newest first. */
  list(userId: string, filter?: ExecutionFilter): Promise<Page<Execution>>;
  /**
   * queued|running → running with this attempt and worker. Returns null when the execution is
   * already terminal (so a duplicate delivery is dropped).
   */
  markRunning(id: string, workerId: string, attempt: number): Promise<Execution | null>;
  /**
   * A worker takes a delivery of the execution's job, in one statement: queued|running → running
   * under attempt max(`deliveryAttempt`, stored attempt + 1). Returns the execution as claimed and
   * the attempt stored before; null when it is terminal or unknown.
   */
  claim(
    id: string,
    workerId: string,
    deliveryAttempt: number,
  ): Promise<{ execution: Execution; previousAttempt: number } | null>;
  /** Sets the terminal state once; returns false when it was already terminal. */
  finish(
    id: string,
    outcome: {
      status: TerminalStatus;
      result?: unknown;
      error?: ExecutionError | null;
      usage?: TokenUsage | null;
    },
  ): Promise<boolean>;
  /** Flags a cancel request; returns the execution (null when not found for that user). */
  requestCancel(id: string, userId: string): Promise<Execution | null>;
  /** Queued + running executions of a user. */
  countActive(userId: string): Promise<number>;
  /**
   * Inside a transaction: takes this execution's recovery lock for the rest of the transaction, or
   * returns false at once when another transaction holds it (another worker's reconciler).
   */
  claimRecovery(id: string): Promise<boolean>;
  /** The executions among `ids` whose cancel was requested (one query for a whole worker). */
  cancelRequestedAmong(ids: readonly string[]): Promise<string[]>;
  /**
   * Queued and running executions created at least `olderThanMs` ago, oldest first, paged by
   * (created_at, id) on a partial index of unfinished rows, so a pass costs the page, not the table.
   */
  unfinished(options: {
    olderThanMs: number;
    limit?: number;
    cursor?: string;
  }): Promise<Page<UnfinishedExecution>>;
  /** Counts by status over the platform, and per minute finished in the last `minutes`. */
  stats(minutes: number): Promise<{
    byStatus: Record<ExecutionStatus, number>;
    perMinute: MinuteFigures[];
  }>;
}

/** One minute of finished executions; the percentiles are null for a minute without any. */
export interface MinuteFigures {
  minute: string;
  succeeded: number;
  failed: number;
  /** 95th percentile of start-to-finish time, in milliseconds. */
  p95DurationMs: number | null;
  /** 95th percentile of the wait between submission and start, in milliseconds. */
  p95QueueWaitMs: number | null;
}

export interface Repositories {
  readonly automations: AutomationRepository;
  readonly schedules: ScheduleRepository;
  readonly webhooks: WebhookTriggerRepository;
  readonly egress: EgressRepository;
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  readonly sessions: SessionRepository;
  readonly messages: MessageRepository;
  readonly executions: ExecutionRepository;
  readonly files: FileRepository;
  readonly audit: AuditRepository;
}

export interface Store extends Repositories {
  readonly db: Database;
  /**
   * Runs `work` in one transaction with repositories bound to it: every write it makes lands
   * together, or none does when it throws.
   */
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
}

/** A user already has `limit` executions queued or running; nothing was written. */
export class ConcurrencyLimitError extends Error {
  constructor(
    readonly active: number,
    readonly limit: number,
  ) {
    super(`concurrency limit reached: ${active} of ${limit} executions active`);
    this.name = 'ConcurrencyLimitError';
  }
}
