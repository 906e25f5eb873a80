import type { Readable } from 'node:stream';
import type { ByteRange } from '../blobs/types.js';
import type {
  AutomationRepository,
  ScheduleRepository,
  WebhookTriggerRepository,
} from './automation-types.js';

export * from './automation-types.js';

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
export type ScriptLanguage = 'javascript' | 'typescript' | 'shell' | 'python';

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

export interface AuditEntry {
  id: string;
  actorId: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  at: string;
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
  /** Newest first. */
  list(userId: string, page?: PageRequest): Promise<Page<Session>>;
  /** Null when it does not exist or belongs to another user. */
  get(userId: string, id: string): Promise<Session | null>;
  rename(userId: string, id: string, title: string): Promise<Session | null>;
  /** Deletes the session and its messages; returns false when not found. */
  delete(userId: string, id: string): Promise<boolean>;
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

export interface FileChangeSet {
  writes: readonly { path: string; content: Buffer }[];
  deletes: readonly string[];
  /**
   * The SHA-256 each path had when the change was made (null: it did not exist). A path stored
   * differently now was changed by someone else in the meantime: their version stays, a write of
   * ours is kept beside it (`conflictCopyPath`, tagged `conflictTag`) and a delete of ours is
   * dropped. Paths without a base are written and deleted as given.
   */
  bases?: ReadonlyMap<string, string | null>;
  conflictTag?: string;
}

/** A path of a change that met a concurrent change; `keptAs` is where our write went (null: a delete, dropped). */
export interface FileConflict {
  path: string;
  keptAs: string | null;
}

export interface FileRepository {
  /** Files under a directory prefix ('' = all), sorted by path. */
  list(userId: string, prefix?: string): Promise<StoredFile[]>;
  get(userId: string, path: string): Promise<(StoredFile & { content: Buffer }) | null>;
  /**
   * A file's metadata and a stream of its content, without reading it whole; null when there is no
   * such file. `rangeOf` (given the file) may pick a range within it to stream instead, or throw.
   */
  open(
    userId: string,
    path: string,
    rangeOf?: (file: StoredFile) => ByteRange | undefined,
  ): Promise<(StoredFile & { content: Readable; range?: ByteRange }) | null>;
  /**
   * Creates or replaces a file. Rejects with QuotaExceededError when the user's total would pass
   * `quotaBytes`; nothing is written then.
   */
  put(
    userId: string,
    path: string,
    content: Buffer,
    quotaBytes: number,
    quotaFiles?: number,
  ): Promise<StoredFile>;
  /**
   * Writes and deletes several files as one change: all of it or, on QuotaExceededError, none.
   * Only growth past `quotaBytes` is refused, so a user over a lowered quota may still shrink.
   * Returns the paths that met a concurrent change (see `FileChangeSet.bases`).
   */
  apply(
    userId: string,
    change: FileChangeSet,
    quotaBytes: number,
    quotaFiles?: number,
  ): Promise<{ conflicts: FileConflict[] }>;
  delete(userId: string, path: string): Promise<boolean>;
  /** Bytes used by a user. */
  usage(userId: string): Promise<number>;
}

export interface AuditRepository {
  record(entry: {
    actorId: string | null;
    action: string;
    target?: string | null;
    details?: Record<string, unknown>;
  }): Promise<void>;
  list(page?: PageRequest): Promise<Page<AuditEntry>>;
}

/** A user secret as stored: its value only as ciphertext. */
export interface StoredSecret {
  id: string;
  userId: string;
  name: string;
  hosts: string[];
  delivery: SecretDelivery;
  keyId: string;
  ciphertext: string;
  createdAt: string;
  updatedAt: string;
}

export type SecretDelivery = { header: string; template: string } | { query: string };

export interface EgressRequestEntry {
  id: string;
  executionId: string | null;
  userId: string;
  host: string;
  port: number;
  method: string;
  status: number | null;
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
  outcome: 'allowed' | 'refused' | 'failed';
  reason: string | null;
  at: string;
}

export interface EgressRepository {
  /** Creates or replaces the user's secret `name`. */
  putSecret(input: Omit<StoredSecret, 'id' | 'createdAt' | 'updatedAt'>): Promise<StoredSecret>;
  getSecret(userId: string, name: string): Promise<StoredSecret | undefined>;
  listSecrets(userId: string): Promise<StoredSecret[]>;
  deleteSecret(userId: string, name: string): Promise<boolean>;
  /** Secrets encrypted under another key than `keyId` (rotation), at most `limit`. */
  secretsNotUnder(keyId: string, limit: number): Promise<StoredSecret[]>;
  /** Swaps the ciphertext of one secret if it is still the one read (`previous`). */
  reencryptSecret(id: string, previous: string, keyId: string, ciphertext: string): Promise<boolean>;
  /** The user level of the egress allowlist; null = the level does not narrow. */
  userAllowlist(userId: string): Promise<string[] | null>;
  setUserAllowlist(userId: string, rules: string[] | null): Promise<void>;
  automationAllowlist(automationId: string): Promise<{ ownerId: string; rules: string[] } | null>;
  setAutomationAllowlist(automationId: string, ownerId: string, rules: string[] | null): Promise<void>;
  recordRequest(entry: Omit<EgressRequestEntry, 'id' | 'at'>): Promise<void>;
  /** Requests of one execution, oldest first. */
  listRequests(executionId: string, limit?: number): Promise<EgressRequestEntry[]>;
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

export class QuotaExceededError extends Error {
  /**
   * `usedBytes`: the user's usage before the refused write; `requestedBytes` (when known): how much
   * the write would have added.
   */
  constructor(
    readonly usedBytes: number,
    readonly quotaBytes: number,
    readonly requestedBytes?: number,
  ) {
    super(
      requestedBytes === undefined
        ? `quota exceeded: ${usedBytes} of ${quotaBytes} bytes`
        : `quota exceeded: ${usedBytes} of ${quotaBytes} bytes used, ${requestedBytes} more requested`,
    );
    this.name = 'QuotaExceededError';
  }
}

/** A write that would leave the user more files than `quotaFiles` (USER_QUOTA_FILES). */
export class FileCountExceededError extends QuotaExceededError {
  constructor(
    readonly usedFiles: number,
    readonly quotaFiles: number,
    usedBytes: number,
    quotaBytes: number,
  ) {
    super(usedBytes, quotaBytes);
    this.message = `file quota exceeded: ${usedFiles} files would pass the limit of ${quotaFiles}`;
    this.name = 'FileCountExceededError';
  }
}
