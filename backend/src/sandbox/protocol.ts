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
  shutdown: { params: Record<string, never>; result: { bye: true } };
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
}
