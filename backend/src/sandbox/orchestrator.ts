/**
 * The SandboxOrchestrator: one sandbox process per active user, reused across that user's
 * executions, at most `maxProcesses` alive (the least recently used idle one is evicted first;
 * when all are busy callers wait in FIFO order, bounded by `acquireTimeoutMs`). One lease per
 * user at a time serialises a user's executions. Crashed, hung or protocol-breaking processes
 * are killed and replaced; the call in them fails with a clear SandboxError.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { EgressContext, SandboxEgress } from '../egress/proxy.js';
import type { Logger } from '../observability/logger.js';
import { maxPathDepth } from '../store/paths.js';
import { DiskBudget } from './disk-budget.js';
import { sandboxEnvironment } from './environment.js';
import {
  dataHeadroomMb,
  detectIsolation,
  type IsolationReport,
  languagesAt,
  sandboxCommand,
} from './isolation.js';
import { languageRequirement } from './languages.js';
import { SandboxProcess } from './process.js';
import type { RpcMethod, RpcMethods, RuntimeSettings, SyncLimits } from './protocol.js';
import { hostPathRedactor, type Redact } from './redact.js';
import { locateRuntime } from './runtime-entry.js';
import { assertTraversable } from './traversal.js';
import {
  type CallOptions,
  type CodeRunResult,
  type IsolationLevel,
  type PoolFigures,
  SandboxError,
  type SandboxEvent,
  type SandboxLease,
  type SandboxOrchestrator,
  type ScriptLanguage,
  type SyncScanResult,
} from './types.js';
import { stripTypes, type ToSource } from './typescript.js';
import { UidPool } from './uids.js';
import { directoryUsage } from './usage.js';
import {
  assertUserId,
  directoryOwnerUid,
  discardUserDirectory,
  ensureUserDirectory,
  type SandboxOwner,
  userDirectory,
} from './workspace.js';

export { sandboxEnvironment } from './environment.js';

export interface SandboxOrchestratorOptions {
  root: string;
  isolation: 'auto' | 'bwrap' | 'process';
  requireIsolation: 'none' | 'bwrap';
  maxProcesses: number;
  idleMs: number;
  acquireTimeoutMs: number;
  memoryMb: number;
  maxOutputBytes: number;
  maxFileBytes: number;
  maxProcs: number;
  userQuotaBytes: number;
  /** Files a user may keep (USER_QUOTA_FILES); the runtime's walks and the quota watcher stop past it. */
  userQuotaFiles?: number;
  /** Disk all users' directories on this worker may take (`SANDBOX_DISK_BUDGET_BYTES`); 0 = none. */
  diskBudgetBytes?: number;
  envAllowlist: readonly string[];
  logger?: Logger;
  /** Where allowlisted variables are read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Health check of idle processes: interval and how long a ping may take. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Limit of one fs.* call (a hung runtime is killed after it). */
  callTimeoutMs?: number;
  /** How often the user's disk usage is checked while code runs. */
  quotaCheckMs?: number;
  /** The egress proxy: each sandbox process gets its own socket of it. */
  egress?: SandboxEgress;
  /** The data directory (`DATA_DIR`): named in no message a user sees. */
  dataDir?: string;
  /** uids/gids a root worker gives its live sandboxes, one each (`SANDBOX_UID_RANGE`). */
  uidRange?: { first: number; last: number };
}

export interface ManagedSandboxOrchestrator extends SandboxOrchestrator {
  /** Why this isolation level (what detection found). */
  readonly isolationReason: string;
  /** Host pid of the user's live sandbox process, if any (operations, tests). */
  processIdOf(userId: string): number | undefined;
  /**
   * Every live sandbox runs under a uid of its own (a root worker). When false (a non-root
   * worker, e.g. in a pod) all sandboxes share the worker's uid: at `process` level they can
   * signal each other; at `bwrap` level the pid namespace stops it.
   */
  readonly separateUids: boolean;
  /** The uid of the user's live sandbox, when the pool assigns them (operations, tests). */
  uidOf(userId: string): number | undefined;
}

const startTimeoutMs = 15_000;
const cancelGraceMs = 500;
// How long past a run's limit the worker waits for the runtime's own timeout answer before it
// kills the process (a synchronous loop never lets the runtime answer).
const runGraceMs = 500;
const openFiles = 256;
const tmpCapBytes = 64 * 1024 * 1024;
const defaultQuotaFiles = 10_000;

interface Slot {
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
}

interface Waiter {
  userId: string;
  since: number;
  resolve: (slot: Slot, warm: boolean) => void;
  reject: (error: Error) => void;
}

export async function createSandboxOrchestrator(
  options: SandboxOrchestratorOptions,
): Promise<ManagedSandboxOrchestrator> {
  const report = chooseIsolation(options, await detectIsolation());
  const runtime = await locateRuntime();
  if (process.getuid?.() === 0) {
    await assertTraversable([
      { what: "the sandboxes' root", path: options.root, setting: 'SANDBOX_ROOT (or DATA_DIR)' },
      { what: 'the sandbox runtime', path: runtime.dir },
      { what: 'the Node binary', path: path.dirname(process.execPath) },
    ]);
  }
  const headroom = await dataHeadroomMb(options.memoryMb);
  const pool = new Pool(options, report, runtime, headroom);
  // Directories a restarted worker finds count against the budget; measured off the start path.
  void pool.disk.start();
  options.logger?.info(
    { isolation: report.level, reason: report.reason, dataHeadroomMb: headroom },
    'sandbox isolation level',
  );
  return pool;
}

/** The level a pool runs at, given what detection found; refuses what the settings forbid. */
export function chooseIsolation(
  options: Pick<SandboxOrchestratorOptions, 'isolation' | 'requireIsolation'>,
  detected: IsolationReport,
): IsolationReport {
  if (options.requireIsolation === 'bwrap' && detected.level !== 'bwrap') {
    throw new Error(`SANDBOX_REQUIRE_ISOLATION=bwrap but bwrap isolation is unavailable: ${detected.reason}`);
  }
  if (options.isolation === 'bwrap' && detected.level !== 'bwrap') {
    throw new Error(`SANDBOX_ISOLATION=bwrap but bwrap isolation is unavailable: ${detected.reason}`);
  }
  if (options.isolation === 'process') {
    if (options.requireIsolation === 'bwrap')
      throw new Error('SANDBOX_ISOLATION=process contradicts SANDBOX_REQUIRE_ISOLATION=bwrap');
    return { level: 'process', reason: 'SANDBOX_ISOLATION=process (fit for trusted code only)' };
  }
  return detected;
}

class Pool implements ManagedSandboxOrchestrator {
  readonly isolation: IsolationLevel;
  readonly isolationReason: string;
  readonly languages: readonly ScriptLanguage[];
  private readonly slots = new Map<string, Slot>();
  private readonly waiters: Waiter[] = [];
  /** Set when the worker is root: every live sandbox gets a uid of its own from the range. */
  private readonly uids: UidPool | undefined;
  private readonly env: Record<string, string>;
  private readonly maxLineBytes: number;
  private readonly healthTimer: NodeJS.Timeout;
  private closed = false;
  /** Users whose directory is being removed for the disk budget: their acquires wait. */
  private readonly evicting = new Set<string>();
  readonly disk: DiskBudget;
  private counts = {
    starts: 0,
    crashes: 0,
    evictions: 0,
    reaped: 0,
    acquisitions: 0,
    warm: 0,
    waitMsTotal: 0,
    waitMsMax: 0,
  };

  constructor(
    readonly options: SandboxOrchestratorOptions,
    private readonly report: IsolationReport,
    private readonly runtime: { dir: string; file: string },
    private readonly dataHeadroomMb: number,
  ) {
    this.isolation = report.level;
    this.isolationReason = report.reason;
    this.languages = languagesAt(report.level);
    this.env = sandboxEnvironment(options.envAllowlist, options.env ?? process.env);
    this.uids =
      process.getuid?.() === 0
        ? new UidPool(options.uidRange ?? { first: 100_000, last: 165_535 })
        : undefined;
    // A file travels base64-encoded inside one line: room for the largest file plus framing.
    this.maxLineBytes = Math.max(1024 * 1024, Math.ceil((options.maxFileBytes * 4) / 3) + 64 * 1024);
    const interval = options.pingIntervalMs ?? Math.min(5000, Math.max(100, Math.floor(options.idleMs / 2)));
    this.healthTimer = setInterval(() => void this.checkIdle(), interval);
    this.disk = new DiskBudget({
      root: options.root,
      budgetBytes: options.diskBudgetBytes ?? 0,
      walkLimits: this.walkLimits,
      evict: (userId) => this.evictDirectory(userId),
      logger: options.logger,
    });
    this.healthTimer.unref();
  }

  userDir(userId: string): string {
    return userDirectory(this.options.root, userId);
  }

  processIdOf(userId: string): number | undefined {
    const proc = this.slots.get(userId.toLowerCase())?.proc;
    return proc?.alive ? proc.pid : undefined;
  }

  figures(): PoolFigures {
    let live = 0;
    let busy = 0;
    for (const slot of this.slots.values()) {
      if (slot.proc?.alive || slot.starting) live++;
      if (slot.leased) busy++;
    }
    const { starts, crashes, evictions, reaped, acquisitions, warm, waitMsTotal, waitMsMax } = this.counts;
    return {
      live,
      busy,
      idle: Math.max(0, live - busy),
      waiting: this.waiters.length,
      starts,
      crashes,
      evictions,
      reaped,
      reuseRatio: acquisitions === 0 ? 1 : warm / acquisitions,
      waitMsTotal,
      waitMsMax,
      ...this.disk.figures(),
    };
  }

  async acquire(userId: string, options: { signal?: AbortSignal } = {}): Promise<SandboxLease> {
    assertUserId(userId);
    const id = userId.toLowerCase();
    if (this.closed) throw new SandboxError('busy', 'the sandbox pool is shut down');
    options.signal?.throwIfAborted();
    const since = performance.now();
    const { slot, warm } = await new Promise<{ slot: Slot; warm: boolean }>((resolve, reject) => {
      const waiter: Waiter = {
        userId: id,
        since,
        resolve: (s, w) => {
          cleanup();
          resolve({ slot: s, warm: w });
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.dropWaiter(waiter);
        reject(
          new SandboxError(
            'busy',
            `no sandbox became free within ${this.options.acquireTimeoutMs} ms (${this.options.maxProcesses} processes, all busy)`,
          ),
        );
      }, this.options.acquireTimeoutMs);
      const onAbort = () => {
        this.dropWaiter(waiter);
        cleanup();
        reject(new SandboxError('cancelled', 'waiting for a sandbox was cancelled'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
    const waited = performance.now() - since;
    this.counts.acquisitions++;
    if (warm) this.counts.warm++;
    this.counts.waitMsTotal += waited;
    this.counts.waitMsMax = Math.max(this.counts.waitMsMax, waited);
    try {
      await this.ensureProcess(slot);
    } catch (error) {
      this.releaseSlot(slot);
      // A start failure's text can name host folders: redacted like everything a lease returns.
      if (error instanceof SandboxError)
        throw new SandboxError(error.code, this.redactorFor(slot.dir)(error.message));
      throw error;
    }
    return new Lease(this, slot);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new SandboxError('busy', 'the sandbox pool is shutting down'));
    await Promise.all(
      [...this.slots.values()].map(async (slot) => {
        this.slots.delete(slot.userId);
        const proc = slot.proc ?? (await slot.starting?.catch(() => undefined));
        if (proc) {
          slot.stopping.add(proc);
          await proc.stop(1000);
        }
      }),
    );
  }

  // ---- pool mechanics ----

  private dropWaiter(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index !== -1) this.waiters.splice(index, 1);
  }

  /** Serves waiters in arrival order; a waiter whose user is busy does not block the others. */
  private pump(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i] as Waiter;
      let slot = this.slots.get(waiter.userId);
      if (slot?.leased || this.evicting.has(waiter.userId)) {
        i++;
        continue;
      }
      if (!slot) {
        if (this.slots.size >= this.options.maxProcesses && !this.evictOne()) {
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
        this.slots.set(waiter.userId, slot);
      }
      this.waiters.splice(i, 1);
      slot.leased = true;
      waiter.resolve(slot, slot.proc?.alive === true);
    }
  }

  private evictOne(): boolean {
    let oldest: Slot | undefined;
    for (const slot of this.slots.values()) {
      if (!slot.leased && (!oldest || slot.lastUsed < oldest.lastUsed)) oldest = slot;
    }
    if (!oldest) return false;
    this.slots.delete(oldest.userId);
    this.counts.evictions++;
    if (oldest.proc) {
      oldest.stopping.add(oldest.proc);
      void oldest.proc.stop(500);
    }
    return true;
  }

  releaseSlot(slot: Slot): void {
    slot.leased = false;
    slot.lastUsed = performance.now();
    if (!slot.proc?.alive && !slot.starting && this.slots.get(slot.userId) === slot)
      this.slots.delete(slot.userId);
    this.pump();
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
        const proc = slot.proc ?? (await slot.starting?.catch(() => undefined));
        if (proc) {
          slot.stopping.add(proc);
          await proc.stop(500);
        }
      }
      await discardUserDirectory(this.options.root, userId);
      return true;
    } finally {
      this.evicting.delete(userId);
      this.pump();
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
    if (this.closed) throw new SandboxError('busy', 'the sandbox pool is shut down');
    // The directory is made ready (created, owned) with every process it is mounted into, not on
    // every acquire: a warm acquire skips the walk over the user's tree. What user code does to
    // the three folders meanwhile is repaired by the file sync before every execution.
    const owner = await this.ownerFor(slot.userId);
    try {
      return await this.startAs(slot, owner);
    } catch (error) {
      if (owner) this.uids?.release(owner.uid);
      throw error;
    }
  }

  /**
   * A uid no other live sandbox has: the one that owns the user's directory already when it is
   * free (nothing to hand over), else the user's own slot in the range or the next free one.
   */
  private async ownerFor(userId: string): Promise<SandboxOwner | undefined> {
    if (!this.uids) return undefined;
    const current = await directoryOwnerUid(this.options.root, userId);
    const uid = this.uids.take(userId, current);
    return { uid, gid: uid };
  }

  /** Sandboxes of this pool have uids of their own (the worker is root). */
  get separateUids(): boolean {
    return this.uids !== undefined;
  }

  uidOf(userId: string): number | undefined {
    return this.slots.get(userId.toLowerCase())?.owner?.uid;
  }

  private async startAs(slot: Slot, owner: SandboxOwner | undefined): Promise<SandboxProcess> {
    await ensureUserDirectory(this.options.root, slot.userId, owner);
    const settings = (root: string): string =>
      JSON.stringify({
        root,
        maxFileBytes: this.options.maxFileBytes,
        maxOutputBytes: this.options.maxOutputBytes,
        quotaBytes: this.options.userQuotaBytes,
        maxLineBytes: this.maxLineBytes,
        languages: [...this.languages],
        ownPidNamespace: this.isolation === 'bwrap',
        walkLimits: this.walkLimits,
      } satisfies RuntimeSettings);
    const egressKey = randomUUID();
    const egressSocket = await this.options.egress?.open(egressKey);
    const command = sandboxCommand({
      egressSocket,
      level: this.isolation,
      bwrapPath: this.report.bwrapPath,
      tmpBytes: this.report.bwrapTmpSize ? Math.min(this.options.userQuotaBytes, tmpCapBytes) : undefined,
      runtime: this.runtime,
      userDir: slot.dir,
      owner,
      limits: {
        memoryMb: this.options.memoryMb,
        dataHeadroomMb: this.dataHeadroomMb,
        maxFileBytes: this.options.maxFileBytes,
        maxProcs: this.options.maxProcs,
        openFiles,
      },
      env: this.env,
      settings,
    });
    const proc = new SandboxProcess({
      command: command.command,
      args: command.args,
      env: command.env,
      maxLineBytes: this.maxLineBytes,
      maxOutputBytes: this.options.maxOutputBytes,
      memoryLimitBytes: (this.options.memoryMb + this.dataHeadroomMb) * 1024 * 1024,
    });
    this.counts.starts++;
    // The uid is free again only once the process (and with bwrap its whole namespace) is gone.
    void proc.exited.then(() => {
      if (owner) this.uids?.release(owner.uid);
      if (slot.owner === owner) slot.owner = undefined;
      this.onExit(slot, proc);
    });
    if (egressSocket) void proc.exited.then(() => this.options.egress?.close(egressKey));
    slot.owner = owner;
    const timer = setTimeout(
      () =>
        proc.kill(
          new SandboxError(
            'crashed',
            `the sandbox did not answer its first ping within ${startTimeoutMs} ms`,
          ),
        ),
      startTimeoutMs,
    );
    try {
      await proc.call('ping', {}).result;
    } catch (error) {
      proc.kill();
      throw error instanceof SandboxError
        ? new SandboxError('crashed', `the sandbox process could not start: ${error.message}`)
        : error;
    } finally {
      clearTimeout(timer);
    }
    slot.proc = proc;
    slot.egressKey = egressKey;
    return proc;
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
      if (proc.pendingCalls > 0) continue;
      const timer = setTimeout(
        () => proc.kill(new SandboxError('crashed', `the sandbox missed a ping (${timeout} ms)`)),
        timeout,
      );
      await proc
        .call('ping', {})
        .result.catch(() => {})
        .finally(() => clearTimeout(timer));
    }
    this.pump();
  }

  // ---- calls ----

  async call<M extends RpcMethod>(
    slot: Slot,
    method: M,
    params: RpcMethods[M]['params'],
    options: CallOptions,
    extra: { hardTimeoutMs: number; watchQuota?: boolean },
  ): Promise<RpcMethods[M]['result']> {
    options.signal?.throwIfAborted();
    const proc = await this.ensureProcess(slot);
    const { id, result } = proc.call(method, params, options.onEvent);
    const timers: NodeJS.Timeout[] = [];
    const hard = setTimeout(
      () =>
        proc.kill(
          new SandboxError(
            'timeout',
            `${method} did not finish within ${extra.hardTimeoutMs} ms; the sandbox was stopped and will be replaced`,
          ),
        ),
      extra.hardTimeoutMs,
    );
    timers.push(hard);
    const onAbort = () => {
      proc.cancel(id);
      timers.push(
        setTimeout(
          () =>
            proc.kill(
              new SandboxError(
                'cancelled',
                `${method} was cancelled; the sandbox was stopped and will be replaced`,
              ),
            ),
          cancelGraceMs,
        ),
      );
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let quota: NodeJS.Timeout | undefined;
    let watching = false;
    if (extra.watchQuota) {
      // Between the runtime's own checks a script could fill the disk; the worker watches too,
      // with a walk that never follows a link (usage.ts). The first reading is the baseline
      // (taken late so a quick run costs no disk walk): only growth past the byte quota after it
      // counts; the runtime checks the total when the run ends. More files or deeper folders than
      // allowed always stop the run: the directory starts from stored files, which are within both.
      const maxFiles = this.options.userQuotaFiles ?? defaultQuotaFiles;
      let baseline: number | undefined;
      let measuring = false;
      watching = true;
      quota = setInterval(() => {
        if (measuring) return;
        measuring = true;
        void directoryUsage(slot.dir, this.walkLimits)
          .then((used) => {
            // A walk that ends after the call must not stop the process serving the next one.
            if (!watching) return;
            baseline ??= used.bytes;
            const reason =
              used.exceeded === 'depth'
                ? `folders nested more than ${maxPathDepth} levels deep`
                : used.exceeded === 'files'
                  ? `more than ${maxFiles} files, over the file quota`
                  : used.bytes > this.options.userQuotaBytes && used.bytes > baseline
                    ? `${used.bytes} bytes of disk, over the quota of ${this.options.userQuotaBytes}`
                    : undefined;
            if (reason)
              proc.kill(
                new SandboxError('quota_exceeded', `the run used ${reason}; the sandbox was stopped`),
              );
          })
          .finally(() => {
            measuring = false;
          });
      }, this.options.quotaCheckMs ?? 250);
    }
    try {
      return await result;
    } finally {
      for (const t of timers) clearTimeout(t);
      if (quota) clearInterval(quota);
      watching = false;
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  recycle(slot: Slot, why: string): void {
    const proc = slot.proc;
    if (!proc?.alive) return;
    slot.stopping.add(proc);
    proc.kill(new SandboxError('timeout', why));
  }

  redactorFor(userDir: string): Redact {
    return hostPathRedactor(
      { root: this.options.root, runtimeDir: this.runtime.dir, dataDir: this.options.dataDir },
      userDir,
    );
  }

  /** Gives the sandbox's egress socket to one run; the returned function takes it back. */
  attachEgress(slot: Slot, context: EgressContext | undefined): () => void {
    if (!context || !slot.egressKey || !this.options.egress) return () => {};
    return this.options.egress.attach(slot.egressKey, context);
  }

  get callTimeoutMs(): number {
    return this.options.callTimeoutMs ?? 30_000;
  }

  /** Bounds of every walk over a user's tree (a file over the quota is enough to stop at). */
  get walkLimits(): { maxFiles: number; maxDepth: number } {
    return { maxFiles: (this.options.userQuotaFiles ?? defaultQuotaFiles) + 1, maxDepth: maxPathDepth };
  }

  /**
   * Ends the slot's sandbox process and removes the user's local directory (a cache of the
   * stored files); the next call starts a fresh process on a fresh directory.
   */
  async discard(slot: Slot): Promise<void> {
    const proc = slot.proc ?? (await slot.starting?.catch(() => undefined));
    if (proc) {
      slot.stopping.add(proc);
      if (slot.proc === proc) slot.proc = undefined;
      await proc.stop(500);
    }
    await discardUserDirectory(this.options.root, slot.userId);
    this.disk.forget(slot.userId);
  }
}

class Lease implements SandboxLease {
  readonly userId: string;
  readonly isolation: IsolationLevel;
  private released = false;
  /** Every text this lease hands out passes here: no host path reaches the user. */
  private readonly redact: Redact;

  constructor(
    private readonly pool: Pool,
    private readonly slot: Slot,
  ) {
    this.userId = slot.userId;
    this.isolation = pool.isolation;
    this.redact = pool.redactorFor(slot.dir);
  }

  private async rpc<M extends RpcMethod>(
    method: M,
    params: RpcMethods[M]['params'],
    options: CallOptions = {},
    watchQuota = false,
  ): Promise<RpcMethods[M]['result']> {
    if (this.released) throw new SandboxError('invalid_request', 'this sandbox lease was already released');
    const onEvent = options.onEvent;
    try {
      return await this.pool.call(
        this.slot,
        method,
        params,
        {
          ...options,
          onEvent: onEvent && ((event) => onEvent(this.redactEvent(event))),
        },
        { hardTimeoutMs: options.timeoutMs ?? this.pool.callTimeoutMs, watchQuota },
      );
    } catch (error) {
      if (error instanceof SandboxError) {
        const redacted = new SandboxError(error.code, this.redact(error.message));
        redacted.stack = `${redacted.name}: ${redacted.message}`;
        throw redacted;
      }
      throw error;
    }
  }

  private redactEvent(event: SandboxEvent): SandboxEvent {
    if (event.kind === 'output') return { ...event, data: this.redact(event.data) };
    if (event.kind === 'progress') return { ...event, message: this.redact(event.message) };
    return event;
  }

  list(path: string, options?: CallOptions) {
    return this.rpc('fs.list', { path }, options);
  }

  read(path: string, options?: CallOptions) {
    return this.rpc('fs.read', { path }, options);
  }

  write(path: string, content: string, options: CallOptions & { encoding?: 'utf8' | 'base64' } = {}) {
    return this.rpc('fs.write', { path, content, encoding: options.encoding ?? 'utf8' }, options);
  }

  edit(path: string, oldText: string, newText: string, options?: CallOptions & { replaceAll?: boolean }) {
    return this.rpc('fs.edit', { path, oldText, newText, replaceAll: options?.replaceAll }, options);
  }

  async delete(path: string, options?: CallOptions): Promise<void> {
    await this.rpc('fs.delete', { path }, options);
  }

  async syncScan(limits: SyncLimits, options: CallOptions = {}): Promise<SyncScanResult> {
    const files: SyncScanResult['files'] = [];
    const onEvent = (event: SandboxEvent) => {
      if (event.kind === 'sync.files' && Array.isArray(event.files)) files.push(...event.files);
    };
    const { exceeded } = await this.rpc('sync.scan', { limits }, { ...options, onEvent });
    return { files, exceeded };
  }

  async syncHash(paths: string[], options?: CallOptions) {
    return (await this.rpc('sync.hash', { paths }, options)).files;
  }

  syncRead(path: string, options?: CallOptions) {
    return this.rpc('sync.read', { path }, options);
  }

  async syncWrite(path: string, content: Buffer, options?: CallOptions): Promise<string> {
    return (await this.rpc('sync.write', { path, content: content.toString('base64') }, options)).stamp;
  }

  async syncDelete(paths: string[], options?: CallOptions): Promise<number> {
    return (await this.rpc('sync.delete', { paths }, options)).removed;
  }

  discardFiles(): Promise<void> {
    if (this.released)
      return Promise.reject(new SandboxError('invalid_request', 'this sandbox lease was already released'));
    return this.pool.discard(this.slot);
  }

  async run(input: Parameters<SandboxLease['run']>[0], options: CallOptions = {}): Promise<CodeRunResult> {
    if (!this.pool.languages.includes(input.language)) {
      throw new SandboxError(
        'unsupported_language',
        `${input.language} is not offered by this worker (${languageRequirement(input.language)}; its sandboxes run at '${this.pool.isolation}' level and offer ${this.pool.languages.join(', ')})`,
      );
    }
    if (typeof input.code !== 'string') throw new SandboxError('invalid_request', 'code must be a string');
    if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0)
      throw new SandboxError('invalid_request', 'timeoutMs must be a positive number');
    let code = input.code;
    let wrapped = false;
    let toSource: ToSource | undefined;
    if (input.language === 'typescript') {
      // Types are stripped here, in the worker, so the runtime needs no compiler: it stays a few
      // dependency-free files that can be mounted read-only, and cannot spawn esbuild's binary.
      const stripped = await stripTypes(code);
      if ('error' in stripped) {
        const error = { ...stripped.error, message: this.redact(stripped.error.message) };
        const where = error.line ? ` (script.ts:${error.line}${error.column ? `:${error.column}` : ''})` : '';
        options.onEvent?.({ kind: 'output', stream: 'stderr', data: `${error.message}${where}\n` });
        return { exitCode: 1, durationMs: 0, timedOut: false, outputTruncated: false, error };
      }
      code = stripped.code;
      toSource = stripped.toSource;
      wrapped = true;
    }
    const started = performance.now();
    let truncated = false;
    const detachEgress = this.pool.attachEgress(this.slot, input.egress);
    const onEvent = (event: SandboxEvent) => {
      if (event.kind === 'output' && event.data.startsWith('\n[output truncated')) truncated = true;
      // A TypeScript run's frames point into the stripped code: shown at the user's own lines.
      if (toSource && event.kind === 'output' && event.stream === 'stderr') {
        const map = toSource;
        event = {
          ...event,
          data: event.data.replace(/script\.js:(\d+):(\d+)/g, (_, l: string, c: string) => {
            const at = map(Number(l), Number(c));
            return `script.ts:${at.line}:${at.column}`;
          }),
        };
      }
      options.onEvent?.(event);
    };
    try {
      const { leftovers, ...result } = await this.rpc(
        'code.run',
        { language: input.language, code, input: input.input, timeoutMs: input.timeoutMs, wrapped },
        { ...options, onEvent, timeoutMs: input.timeoutMs + runGraceMs },
        true,
      );
      // A timed-out script may have left work behind (pending callbacks, children), and a run
      // that ended with timers, handles or listeners still alive did: the process is replaced
      // (the replacement starts now, off the caller's path), so none of it outlives the run.
      if (result.timedOut) this.pool.recycle(this.slot, 'the sandbox was replaced after a timed-out run');
      else if (leftovers && leftovers.length > 0)
        this.pool.recycle(
          this.slot,
          `the sandbox was replaced: the run left ${leftovers.slice(0, 5).join(', ')} running`,
        );
      if (result.error) {
        const at =
          toSource && result.error.line !== undefined
            ? toSource(result.error.line, result.error.column ?? 1)
            : undefined;
        result.error = {
          ...result.error,
          ...(at ? { line: at.line, column: at.column } : {}),
          message: this.redact(result.error.message),
        };
      }
      return result;
    } catch (error) {
      // A cancelled run may have left work behind too.
      if (error instanceof SandboxError && error.code === 'cancelled')
        this.pool.recycle(this.slot, 'the sandbox was replaced after a cancelled run');
      if (error instanceof SandboxError && error.code === 'timeout') {
        return {
          exitCode: null,
          durationMs: Math.round(performance.now() - started),
          timedOut: true,
          outputTruncated: truncated,
        };
      }
      throw error;
    } finally {
      detachEgress();
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.releaseSlot(this.slot);
  }
}
