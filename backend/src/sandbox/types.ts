import type { EgressContext } from '../egress/proxy.js';

/**
 * The sandbox seam as the worker sees it. The orchestrator owns one sandbox process per active
 * user; a lease gives one caller exclusive use of that user's process until it is released.
 */

import type { IsolationLevel, ScriptLanguage } from '../lib/vocabulary.js';
import type { SyncFileState, SyncLimitExceeded, SyncLimits } from './protocol.js';

export type { IsolationLevel, ScriptLanguage };

export interface PoolFigures {
  live: number;
  busy: number;
  idle: number;
  waiting: number;
  starts: number;
  crashes: number;
  evictions: number;
  reaped: number;
  /** Calls served by an already running process / all acquisitions. */
  reuseRatio: number;
  /** Total and maximum time callers waited for a slot. */
  waitMsTotal: number;
  waitMsMax: number;
  /** Bytes the users' directories on this worker take (0 without a disk budget). */
  diskBytes: number;
  /** Directories removed to stay within the disk budget. */
  diskEvictions: number;
  /** Warm spare processes ready for a new user or a crash replacement, and being started. */
  sparesReady: number;
  sparesStarting: number;
  /** Spares bound to a user so far (each serves that one user only). */
  sparesHandedOut: number;
  /** Spares that failed to start. */
  spareRefillFailures: number;
}

/** A notification streamed by the sandbox while a call runs. */
export type SandboxEvent =
  /** `truncated: true` on the event that says the rest of the run's output was dropped. */
  | { kind: 'output'; stream: 'stdout' | 'stderr'; data: string; truncated?: true }
  | { kind: 'file.changed'; path: string; change: 'created' | 'modified' | 'deleted' }
  | { kind: 'progress'; message: string }
  /** A batch of `sync.scan`: path, size and stamp of regular files. */
  | { kind: 'sync.files'; files: Array<[path: string, size: number, stamp: string]> };

export interface CallOptions {
  signal?: AbortSignal;
  /** Wall-clock limit of this call; over it the process is killed and replaced. */
  timeoutMs?: number;
  onEvent?: (event: SandboxEvent) => void;
}

export interface FsEntry {
  path: string;
  type: 'file' | 'directory';
  size: number;
}

/** Where a script's error points in the user's own code (lines and columns from 1). */
export interface ScriptErrorInfo {
  message: string;
  line?: number;
  column?: number;
}

export interface CodeRunResult {
  exitCode: number | null;
  /** JSON value the script returned / printed as its result, if any. */
  result?: unknown;
  /** The script's own error (syntax, thrown, TypeScript), when it failed with one. */
  error?: ScriptErrorInfo;
  durationMs: number;
  timedOut: boolean;
  outputTruncated: boolean;
}

/** Typed wrappers over the JSON-RPC methods of the worker ↔ sandbox protocol (`protocol.ts`). Paths are relative to the user's root. */
export interface SandboxLease {
  readonly userId: string;
  readonly isolation: IsolationLevel;
  list(path: string, options?: CallOptions): Promise<FsEntry[]>;
  read(
    path: string,
    options?: CallOptions,
  ): Promise<{ content: string; encoding: 'utf8' | 'base64'; size: number }>;
  write(
    path: string,
    content: string,
    options?: CallOptions & { encoding?: 'utf8' | 'base64' },
  ): Promise<{ size: number }>;
  edit(
    path: string,
    oldText: string,
    newText: string,
    options?: CallOptions,
  ): Promise<{ replacements: number }>;
  delete(path: string, options?: CallOptions): Promise<void>;
  run(
    input: {
      language: ScriptLanguage;
      code: string;
      input?: unknown;
      timeoutMs: number;
      /** Whose run this is for the egress proxy; without it the run has no egress. */
      egress?: EgressContext;
    },
    options?: CallOptions,
  ): Promise<CodeRunResult>;
  /**
   * The file sync's calls (`worker/file-sync.ts`), answered inside the sandbox so every path
   * resolves in its mount namespace, with its uid, and no link is followed.
   */
  syncScan(limits: SyncLimits, options?: CallOptions): Promise<SyncScanResult>;
  syncHash(paths: string[], options?: CallOptions): Promise<Array<SyncFileState | null>>;
  syncRead(path: string, options?: CallOptions): Promise<SyncFileState & { content: string }>;
  /** Writes a whole file; returns its stamp ('' when it changed again at once). */
  syncWrite(path: string, content: Buffer, options?: CallOptions): Promise<string>;
  syncDelete(paths: string[], options?: CallOptions): Promise<number>;
  /**
   * Ends the user's sandbox process and removes the local directory (a cache of the stored
   * files) at any depth; the next call starts a fresh process on a fresh directory.
   */
  discardFiles(): Promise<void>;
  /** Gives the process back to the pool (kept warm for the same user). */
  release(): void;
}

export interface SyncScanResult {
  /** Regular files: path, size, stamp. */
  files: Array<[path: string, size: number, stamp: string]>;
  /** The walk stopped at this limit; `files` is then incomplete. */
  exceeded?: SyncLimitExceeded;
}

export interface SandboxOrchestrator {
  /** The level actually achieved on this machine. */
  readonly isolation: IsolationLevel;
  /** Languages `run` accepts at this level. */
  readonly languages: readonly ScriptLanguage[];
  /** Every live sandbox has a uid of its own (a root worker); otherwise they share one. */
  readonly separateUids?: boolean;
  /** The user's directory on the host: <root>/<userId>/{uploads,workspace,outputs}. */
  userDir(userId: string): string;
  /** Waits (FIFO, bounded) for the user's sandbox. */
  acquire(userId: string, options?: { signal?: AbortSignal }): Promise<SandboxLease>;
  figures(): PoolFigures;
  shutdown(): Promise<void>;
}

/** A failure inside the sandbox that the caller should report, not crash on. */
export class SandboxError extends Error {
  constructor(
    readonly code:
      | 'invalid_path'
      | 'not_found'
      | 'too_large'
      | 'quota_exceeded'
      | 'unsupported_language'
      | 'timeout'
      | 'cancelled'
      | 'crashed'
      | 'protocol'
      | 'busy'
      | 'invalid_request'
      | 'internal',
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}
