/**
 * Worker ↔ sandbox wire format: JSON-RPC 2.0, one JSON object per line on the sandbox process's
 * stdin (requests, `cancel` notifications) and stdout (responses, `event` notifications).
 * The runtime inside the sandbox imports only the types of this file, never its values, so the
 * runtime directory stays self-contained when it is mounted read-only into a sandbox.
 */
import type { CodeRunResult, FsEntry, SandboxError, SandboxEvent, ScriptLanguage } from './types.js';

export type SandboxErrorCode = SandboxError['code'];

export interface RpcMethods {
  ping: { params: Record<string, never>; result: { pong: true; pid: number; rssBytes: number } };
  'fs.list': { params: { path: string; recursive?: boolean }; result: FsEntry[] };
  'fs.read': {
    params: { path: string };
    result: { content: string; encoding: 'utf8' | 'base64'; size: number };
  };
  'fs.write': {
    params: { path: string; content: string; encoding?: 'utf8' | 'base64' };
    result: { size: number };
  };
  'fs.edit': {
    params: { path: string; oldText: string; newText: string; replaceAll?: boolean };
    result: { replacements: number };
  };
  'fs.delete': { params: { path: string }; result: { deleted: true } };
  'code.run': {
    params: {
      language: ScriptLanguage;
      code: string;
      input?: unknown;
      timeoutMs: number;
      /** The code is already a complete expression yielding a promise (TypeScript stripped by the worker). */
      wrapped?: boolean;
    };
    result: CodeRunReply;
  };
  /**
   * The file sync (worker/file-sync.ts), run here so every path resolves in the sandbox's own
   * mount namespace and with its uid. `sync.scan` streams the regular files as `sync.files`
   * events (bounded lines) and stops at the first limit it meets.
   */
  'sync.scan': { params: { limits: SyncLimits }; result: { files: number; exceeded?: SyncLimitExceeded } };
  /** SHA-256 and stamp of each file (null: not a regular file any more). */
  'sync.hash': { params: { paths: string[] }; result: { files: Array<SyncFileState | null> } };
  'sync.read': { params: { path: string }; result: SyncFileState & { content: string } };
  /** Writes a whole file (base64) through a temporary file renamed into place. */
  'sync.write': { params: { path: string; content: string }; result: { stamp: string } };
  /** Removes files (never what a symlink points to) and the folders they leave empty. */
  'sync.delete': { params: { paths: string[] }; result: { removed: number } };
  /**
   * A warm spare was just bound to a user (`handover.ts`): its working folder becomes the user's
   * `workspace/`, which replaced the spare's own.
   */
  'workspace.enter': { params: Record<string, never>; result: { entered: true } };
  shutdown: { params: Record<string, never>; result: { bye: true } };
}

/** What the sync accepts in a user's directory; past any of them the scan stops. */
export interface SyncLimits {
  maxFiles: number;
  /** Segments of a path, the top-level folder included. */
  maxDepth: number;
  maxPathLength: number;
  maxSegmentLength: number;
}

export interface SyncLimitExceeded {
  limit: 'files' | 'depth' | 'path';
  message: string;
}

/** One regular file as the sync sees it: `stamp` changes whenever its content may have. */
export interface SyncFileState {
  path: string;
  size: number;
  stamp: string;
  sha256: string;
}
/**
 * `code.run`'s answer: the result the caller sees, plus what the script left alive when its run
 * ended (timers, handles, listeners); the worker replaces a process that reports any.
 */
export type CodeRunReply = CodeRunResult & { leftovers?: string[] };

export type RpcMethod = keyof RpcMethods;

export interface RpcRequest<M extends RpcMethod = RpcMethod> {
  jsonrpc: '2.0';
  id: number;
  method: M;
  params: RpcMethods[M]['params'];
}

export interface RpcSuccess {
  jsonrpc: '2.0';
  id: number;
  result: unknown;
}

export interface RpcFailure {
  jsonrpc: '2.0';
  id: number | null;
  error: { code: number; message: string; data?: { kind: SandboxErrorCode } };
}

/** Sandbox → worker: something happened while request `id` runs. */
export interface RpcEventNotification {
  jsonrpc: '2.0';
  method: 'event';
  params: { id: number; event: SandboxEvent };
}

/** Worker → sandbox: stop request `id` as soon as possible. */
export interface RpcCancelNotification {
  jsonrpc: '2.0';
  method: 'cancel';
  params: { id: number };
}

/** JSON-RPC 2.0 error codes; the platform's own kind travels in `error.data.kind`. */
export const rpcErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** Application errors (bad path, quota, ...). */
  application: -32000,
} as const;

/** Arguments the worker passes to the runtime entry as one JSON command-line argument. */
export interface RuntimeSettings {
  /** The user's directory as the sandbox sees it. */
  root: string;
  maxFileBytes: number;
  maxOutputBytes: number;
  quotaBytes: number;
  maxLineBytes: number;
  languages: ScriptLanguage[];
  /** The runtime is alone in its pid namespace (bwrap): it may end every other process in it. */
  ownPidNamespace: boolean;
  /** Bounds of the runtime's own walks (quota checks, changed files): they stop past these. */
  walkLimits?: Pick<SyncLimits, 'maxFiles' | 'maxDepth'>;
}
