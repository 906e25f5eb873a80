/** A user's place in the pool, shared by the pool's modules (never exported from the sandbox module). */
import type { EgressContext } from '../egress/proxy.js';
import type { SandboxProcess } from './process.js';
import type { RpcMethod, RpcMethods } from './protocol.js';
import type { Redact } from './redact.js';
import type { CallOptions, IsolationLevel, ScriptLanguage } from './types.js';
import type { SandboxOwner } from './workspace.js';

export interface Slot {
  userId: string;
  dir: string;
  proc: SandboxProcess | undefined;
  starting: Promise<SandboxProcess> | undefined;
  leased: boolean;
  lastUsed: number;
  /** Processes this pool stopped on purpose: their exit is not a crash. */
  stopping: Set<SandboxProcess>;
  /** The live process's egress socket key. */
  egressKey?: string;
  /** The uid/gid of the slot's current process (root worker). */
  owner?: SandboxOwner;
  /** Built on the first lease (it resolves host paths), then reused by every later one. */
  redact?: Redact;
}

/** What a lease needs from the pool that issued it. */
export interface LeaseHost {
  readonly isolation: IsolationLevel;
  readonly languages: readonly ScriptLanguage[];
  readonly callTimeoutMs: number;
  call<M extends RpcMethod>(
    slot: Slot,
    method: M,
    params: RpcMethods[M]['params'],
    options: CallOptions,
    extra: { hardTimeoutMs: number; watchQuota?: boolean },
  ): Promise<RpcMethods[M]['result']>;
  /** Replaces the slot's process (work a run left behind must not outlive it). */
  recycle(slot: Slot, why: string): void;
  redactorFor(slot: Slot): Redact;
  /** Gives the sandbox's egress socket to one run; the returned function takes it back. */
  attachEgress(slot: Slot, context: EgressContext | undefined): () => void;
  discard(slot: Slot): Promise<void>;
  releaseSlot(slot: Slot): void;
}
