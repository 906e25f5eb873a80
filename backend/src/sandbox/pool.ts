/**
 * Pool bookkeeping: one slot per active user, at most `maxProcesses` processes alive — warm spares
 * included (the least recently used idle slot is evicted first; when all are busy callers wait in
 * FIFO order, bounded by `acquireTimeoutMs`). One lease per user at a time serialises a user's
 * executions. Processes come from the launcher, or from a warm spare when one is ready.
 */
import type { EgressContext } from '../egress/proxy.js';
import { callWithLimits, quotaWatch } from './calls.js';
import { DiskBudget } from './disk-budget.js';
import { handOverSpare } from './handover.js';
import type { IsolationReport } from './isolation.js';
import type { ProcessLauncher } from './launcher.js';
import { Lease } from './lease.js';
import type { ManagedSandboxOrchestrator, SandboxOrchestratorOptions } from './orchestrator.js';
import type { SandboxProcess } from './process.js';
import type { RpcMethod, RpcMethods } from './protocol.js';
import { hostPathRedactor, type Redact } from './redact.js';
import type { LeaseHost, Slot } from './slot.js';
import { type Spare, SparePool } from './spares.js';
import {
  type CallOptions,
  type IsolationLevel,
  type PoolFigures,
  SandboxError,
  type SandboxLease,
  type ScriptLanguage,
} from './types.js';
import { type Waiter, WaitQueue } from './waiters.js';
import { assertUserId, directoryOwnerUid, discardUserDirectory, userDirectory } from './workspace.js';

export class Pool implements ManagedSandboxOrchestrator, LeaseHost {
  readonly isolation: IsolationLevel;
  readonly isolationReason: string;
  private readonly slots = new Map<string, Slot>();
  private readonly waiters = new WaitQueue();
  private readonly healthTimer: NodeJS.Timeout;
  private closed = false;
  /** Users whose directory is being removed for the disk budget: their acquires wait. */
  private readonly evicting = new Set<string>();
  /** Spares reserved for new slots by `pump`, bound at their first start. */
  private readonly reserved = new Map<Slot, Spare>();
  readonly disk: DiskBudget;
  readonly spares: SparePool;
  private counts = { crashes: 0, evictions: 0, reaped: 0, acquisitions: 0, warm: 0 };
  private waits = { waitMsTotal: 0, waitMsMax: 0 };

  constructor(
    readonly options: SandboxOrchestratorOptions,
    report: IsolationReport,
    readonly languages: readonly ScriptLanguage[],
    private readonly runtimeDir: string,
    private readonly launcher: ProcessLauncher,
    /** Bounds of every walk over a user's tree (a file over the quota is enough to stop at). */
    readonly walkLimits: { maxFiles: number; maxDepth: number },
  ) {
    this.isolation = report.level;
    this.isolationReason = report.reason;
    const interval = options.pingIntervalMs ?? Math.min(5000, Math.max(100, Math.floor(options.idleMs / 2)));
    this.healthTimer = setInterval(() => void this.checkIdle(), interval);
    this.healthTimer.unref();
    this.disk = new DiskBudget({
      root: options.root,
      budgetBytes: options.diskBudgetBytes ?? 0,
      walkLimits: this.walkLimits,
      evict: (userId) => this.evictDirectory(userId),
      logger: options.logger,
    });
    // Spares need a directory that can become the user's after start: only a mount follows a
    // renamed directory; the permission model of `process` level grants fixed paths (docs/security.md).
    this.spares = new SparePool({
      root: options.root,
      target: report.level === 'bwrap' ? Math.min(options.warmSpares ?? 0, options.maxProcesses) : 0,
      launcher,
      room: () => this.slots.size + this.spares.size < options.maxProcesses,
      onReady: () => this.pump(),
      logger: options.logger,
    });
  }

  userDir(userId: string): string {
    return userDirectory(this.options.root, userId);
  }

  processIdOf(userId: string): number | undefined {
    const proc = this.slots.get(userId.toLowerCase())?.proc;
    return proc?.alive ? proc.pid : undefined;
  }

  get separateUids(): boolean {
    return this.launcher.separateUids;
  }

  uidOf(userId: string): number | undefined {
    return this.slots.get(userId.toLowerCase())?.owner?.uid;
  }

  spareProcessIds(): number[] {
    return this.spares.processIds();
  }

  figures(): PoolFigures {
    let live = 0;
    let busy = 0;
    for (const slot of this.slots.values()) {
      if (slot.proc?.alive || slot.starting) live++;
      if (slot.leased) busy++;
    }
    const { crashes, evictions, reaped, acquisitions, warm } = this.counts;
    const { waitMsTotal, waitMsMax } = this.waits;
    return {
      live,
      busy,
      idle: Math.max(0, live - busy),
      waiting: this.waiters.list.length,
      starts: this.launcher.starts,
      crashes,
      evictions,
      reaped,
      reuseRatio: acquisitions === 0 ? 1 : warm / acquisitions,
      waitMsTotal,
      waitMsMax,
      ...this.disk.figures(),
      ...this.spares.figures(),
    };
  }

  async acquire(userId: string, options: { signal?: AbortSignal } = {}): Promise<SandboxLease> {
    assertUserId(userId);
    const id = userId.toLowerCase();
    if (this.closed) throw new SandboxError('busy', 'the sandbox pool is shut down');
    options.signal?.throwIfAborted();
    const since = performance.now();
    const { slot, warm } = await this.waiters.wait(
      id,
      {
        signal: options.signal,
        timeoutMs: this.options.acquireTimeoutMs,
        timeoutMessage: `no sandbox became free within ${this.options.acquireTimeoutMs} ms (${this.options.maxProcesses} processes, all busy)`,
      },
      () => this.pump(),
    );
    const waited = performance.now() - since;
    this.counts.acquisitions++;
    if (warm) this.counts.warm++;
    this.waits.waitMsTotal += waited;
    this.waits.waitMsMax = Math.max(this.waits.waitMsMax, waited);
    try {
      await this.ensureProcess(slot);
    } catch (error) {
      this.releaseSlot(slot);
      // A start failure's text can name host folders: redacted like everything a lease returns.
      if (error instanceof SandboxError)
        throw new SandboxError(error.code, this.redactorFor(slot)(error.message));
      throw error;
    }
    return new Lease(this, slot);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    this.waiters.rejectAll(new SandboxError('busy', 'the sandbox pool is shutting down'));
    const reserved = [...this.reserved.values()];
    this.reserved.clear();
    await Promise.all([
      this.spares.shutdown(),
      ...reserved.map((spare) => this.spares.dispose(spare)),
      ...[...this.slots.values()].map(async (slot) => {
        this.slots.delete(slot.userId);
        await this.stopSlotProcess(slot, 1000);
      }),
    ]);
  }

  /** Serves waiters in arrival order; a waiter whose user is busy does not block the others. */
  private pump(): void {
    for (let i = 0; i < this.waiters.list.length; ) {
      const waiter = this.waiters.list[i] as Waiter;
      let slot = this.slots.get(waiter.userId);
      if (slot?.leased || this.evicting.has(waiter.userId)) {
        i++;
        continue;
      }
      if (!slot) {
        // A ready spare moves from the spares to the new slot: the process count stays the same.
        const spare = this.spares.take();
        if (!spare && this.slots.size + this.spares.size >= this.options.maxProcesses && !this.evictOne()) {
          i++;
          continue;
        }
        slot = {
          userId: waiter.userId,
          dir: this.userDir(waiter.userId),
          proc: undefined,
          starting: undefined,
          leased: false,
          lastUsed: performance.now(),
          stopping: new Set(),
        };
        if (spare) this.reserved.set(slot, spare);
        this.slots.set(waiter.userId, slot);
      }
      this.waiters.list.splice(i, 1);
      slot.leased = true;
      waiter.resolve(slot, slot.proc?.alive === true);
    }
  }

  /** Room for one more process: the least recently used idle slot goes. */
  private evictOne(): boolean {
    let oldest: Slot | undefined;
    for (const slot of this.slots.values()) {
      if (!slot.leased && (!oldest || slot.lastUsed < oldest.lastUsed)) oldest = slot;
    }
    if (!oldest) return false;
    this.slots.delete(oldest.userId);
    this.counts.evictions++;
    void this.stopSlotProcess(oldest, 500);
    return true;
  }

  private async stopSlotProcess(slot: Slot, graceMs: number): Promise<void> {
    const proc = slot.proc ?? (await slot.starting?.catch(() => undefined));
    if (!proc) return;
    slot.stopping.add(proc);
    if (slot.proc === proc) slot.proc = undefined;
    await proc.stop(graceMs);
  }

  releaseSlot(slot: Slot): void {
    slot.leased = false;
    slot.lastUsed = performance.now();
    if (!slot.proc?.alive && !slot.starting && this.slots.get(slot.userId) === slot)
      this.slots.delete(slot.userId);
    this.pump();
    this.spares.refill();
    void this.disk.used(slot.userId);
  }

  /**
   * Removes a user's directory for the disk budget, unless their sandbox is leased. Their idle
   * process goes first; an acquire meanwhile waits until the directory is gone.
   */
  private async evictDirectory(userId: string): Promise<boolean> {
    const slot = this.slots.get(userId);
    if (this.closed || slot?.leased || this.evicting.has(userId)) return false;
    this.evicting.add(userId);
    try {
      if (slot) {
        this.slots.delete(userId);
        await this.stopSlotProcess(slot, 500);
      }
      await discardUserDirectory(this.options.root, userId);
      return true;
    } finally {
      this.evicting.delete(userId);
      this.pump();
      this.spares.refill();
    }
  }

  /** The slot's live process, starting one (and waiting for its first ping) when needed. */
  ensureProcess(slot: Slot): Promise<SandboxProcess> {
    if (slot.proc?.alive) return Promise.resolve(slot.proc);
    slot.starting ??= this.start(slot).finally(() => {
      slot.starting = undefined;
    });
    return slot.starting;
  }

  private async start(slot: Slot): Promise<SandboxProcess> {
    const reserved = this.reserved.get(slot);
    this.reserved.delete(slot);
    if (this.closed) {
      if (reserved) await this.spares.dispose(reserved);
      throw new SandboxError('busy', 'the sandbox pool is shut down');
    }
    const spare = reserved ?? this.spares.take();
    if (spare) {
      const onExit = (proc: SandboxProcess) => this.onExit(slot, proc);
      const proc = await handOverSpare(slot, spare, this.options, onExit).catch((error: Error) => {
        this.options.logger?.warn(
          { userId: slot.userId, err: error.message },
          'a warm spare could not be handed over',
        );
        return undefined;
      });
      if (proc) return proc;
    }
    // The directory is made ready (created, owned) with every process it is mounted into, not on
    // every acquire: a warm acquire skips the walk over the user's tree. What user code does to
    // the three folders meanwhile is repaired by the file sync before every execution.
    const owner = this.launcher.takeOwner(
      slot.userId,
      await directoryOwnerUid(this.options.root, slot.userId),
    );
    const launched = await this.launcher.launch(slot.dir, owner, (proc) => {
      if (slot.owner === owner) slot.owner = undefined;
      this.onExit(slot, proc);
    });
    slot.owner = owner;
    slot.proc = launched.proc;
    slot.egressKey = launched.egressKey;
    return launched.proc;
  }

  private onExit(slot: Slot, proc: SandboxProcess): void {
    const intended = slot.stopping.delete(proc);
    if (!intended) {
      this.counts.crashes++;
      this.options.logger?.warn({ userId: slot.userId, pid: proc.pid }, 'sandbox process ended unexpectedly');
    }
    if (slot.proc !== proc) return;
    slot.proc = undefined;
    if (this.slots.get(slot.userId) !== slot) return;
    if (slot.leased && !this.closed) {
      // The lease holder will call again: have the replacement warm by then.
      this.ensureProcess(slot).catch((error: Error) =>
        this.options.logger?.warn({ userId: slot.userId, err: error.message }, 'sandbox replacement failed'),
      );
    } else if (!slot.leased) {
      this.slots.delete(slot.userId);
      this.pump();
      this.spares.refill();
    }
  }

  /** Reaps processes idle for longer than idleMs and kills idle ones that miss a ping. */
  private async checkIdle(): Promise<void> {
    const now = performance.now();
    const timeout = this.options.pingTimeoutMs ?? 2000;
    for (const slot of [...this.slots.values()]) {
      if (slot.leased || !slot.proc?.alive) continue;
      const proc = slot.proc;
      if (now - slot.lastUsed > this.options.idleMs) {
        this.slots.delete(slot.userId);
        this.counts.reaped++;
        slot.stopping.add(proc);
        void proc.stop(500);
        continue;
      }
      if (proc.pendingCalls === 0) await proc.ping(timeout);
    }
    this.pump();
    this.spares.refill();
  }

  async call<M extends RpcMethod>(
    slot: Slot,
    method: M,
    params: RpcMethods[M]['params'],
    options: CallOptions,
    extra: { hardTimeoutMs: number; watchQuota?: boolean },
  ): Promise<RpcMethods[M]['result']> {
    options.signal?.throwIfAborted();
    const proc = await this.ensureProcess(slot);
    return callWithLimits(proc, method, params, options, {
      hardTimeoutMs: extra.hardTimeoutMs,
      quota: extra.watchQuota ? quotaWatch(slot.dir, this.options, this.walkLimits) : undefined,
    });
  }

  recycle(slot: Slot, why: string): void {
    const proc = slot.proc;
    if (!proc?.alive) return;
    slot.stopping.add(proc);
    proc.kill(new SandboxError('timeout', why));
  }

  redactorFor(slot: Slot): Redact {
    slot.redact ??= hostPathRedactor(
      { root: this.options.root, runtimeDir: this.runtimeDir, dataDir: this.options.dataDir },
      slot.dir,
    );
    return slot.redact;
  }

  attachEgress(slot: Slot, context: EgressContext | undefined): () => void {
    if (!context || !slot.egressKey || !this.options.egress) return () => {};
    return this.options.egress.attach(slot.egressKey, context);
  }

  get callTimeoutMs(): number {
    return this.options.callTimeoutMs ?? 30_000;
  }

  /**
   * Ends the slot's sandbox process and removes the user's local directory (a cache of the
   * stored files); the next call starts a fresh process on a fresh directory.
   */
  async discard(slot: Slot): Promise<void> {
    await this.stopSlotProcess(slot, 500);
    await discardUserDirectory(this.options.root, slot.userId);
    this.disk.forget(slot.userId);
  }
}
