/**
 * Warm spare sandboxes (`SANDBOX_WARM_SPARES`): processes started ahead of demand, bound to no
 * user, each on a fresh empty directory of its own (`<root>/.spare-<id>`) under a uid of its own.
 * A spare is handed to exactly one user and never comes back: `take` removes it for good, and the
 * pool binds it to the user (`handover.ts`). They count against the pool's process limit and are
 * started off the request path; one that dies while waiting is replaced.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { callWithLimits } from './calls.js';
import type { Launched, ProcessLauncher } from './launcher.js';
import type { SandboxProcess } from './process.js';
import { discardEntry } from './workspace.js';

export const sparePrefix = '.spare-';
const retryMinMs = 500;
const retryMaxMs = 30_000;
const refillDelayMs = 50;
const warmUpTimeoutMs = 15_000;

/**
 * A runtime's first `code.run` loads and compiles what every run needs (about 100 ms): a spare
 * does it with an empty script of the worker's own before it is ready, so a user's first run is
 * as warm as any. The spare's directory stays empty; a run that leaves anything behind fails it.
 */
async function warmUp(proc: SandboxProcess): Promise<void> {
  const { leftovers, exitCode } = await callWithLimits(
    proc,
    'code.run',
    { language: 'javascript', code: '', timeoutMs: warmUpTimeoutMs },
    {},
    { hardTimeoutMs: warmUpTimeoutMs },
  );
  if (exitCode !== 0 || (leftovers && leftovers.length > 0))
    throw new Error('the warm-up run of a spare sandbox did not end cleanly');
}

export interface Spare {
  /** Name of its directory below the sandboxes' root. */
  name: string;
  dir: string;
  launched: Launched;
  /** Where its exit is reported: the spare pool until it is handed over, then the user's slot. */
  onExit: (proc: SandboxProcess) => void;
}

export interface SpareFigures {
  sparesReady: number;
  sparesStarting: number;
  sparesHandedOut: number;
  spareRefillFailures: number;
}

export class SparePool {
  private readonly ready: Spare[] = [];
  private starting = 0;
  private closed = false;
  private retryMs = retryMinMs;
  private retryTimer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private readonly stopping = new Set<SandboxProcess>();
  private counts = { handedOut: 0, refillFailures: 0 };

  constructor(
    private readonly deps: {
      root: string;
      target: number;
      launcher: ProcessLauncher;
      /** The pool has room for one more process. */
      room: () => boolean;
      /** A spare became ready (a waiter may be served now). */
      onReady: () => void;
      logger?: Logger;
    },
  ) {}

  /** Processes this pool holds or is starting: they count against the process limit. */
  get size(): number {
    return this.ready.length + this.starting;
  }

  figures(): SpareFigures {
    return {
      sparesReady: this.ready.length,
      sparesStarting: this.starting,
      sparesHandedOut: this.counts.handedOut,
      spareRefillFailures: this.counts.refillFailures,
    };
  }

  processIds(): number[] {
    return this.ready.flatMap((spare) =>
      spare.launched.proc.pid === undefined ? [] : [spare.launched.proc.pid],
    );
  }

  /** Removes spare directories a previous run of the worker left, then fills the pool. */
  async start(): Promise<void> {
    if (this.deps.target === 0) return;
    const names = await fs.readdir(this.deps.root).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => n.startsWith(sparePrefix))
        .map((n) => discardEntry(this.deps.root, n).catch(() => {})),
    );
    this.refill();
  }

  /** A ready spare, removed from the pool for good (it serves one user only); refills later. */
  take(): Spare | undefined {
    for (let spare = this.ready.shift(); spare; spare = this.ready.shift()) {
      if (!spare.launched.proc.alive) continue;
      this.counts.handedOut++;
      this.refill();
      return spare;
    }
    return undefined;
  }

  /** Schedules starts up to the target, never on the caller's path. */
  refill(): void {
    if (this.closed || this.scheduled || this.retryTimer || this.deps.target === 0) return;
    this.scheduled = true;
    // Not at once: a spawn blocks the event loop for milliseconds (fork of a large process), and
    // the hand-over that triggered the refill is still finishing on it.
    setTimeout(() => {
      this.scheduled = false;
      while (!this.closed && this.size < this.deps.target && this.deps.room()) void this.startOne();
    }, refillDelayMs).unref();
  }

  private async startOne(): Promise<void> {
    this.starting++;
    const name = `${sparePrefix}${randomUUID()}`;
    const dir = path.join(this.deps.root, name);
    const owner = this.deps.launcher.takeOwner(name);
    const spare: Spare = {
      name,
      dir,
      launched: undefined as unknown as Launched,
      onExit: (proc) => this.lost(spare, proc),
    };
    try {
      spare.launched = await this.deps.launcher.launch(dir, owner, (proc) => spare.onExit(proc));
      await warmUp(spare.launched.proc);
    } catch (error) {
      if (spare.launched) {
        this.stopping.add(spare.launched.proc);
        spare.launched.proc.kill();
      }
      this.starting--;
      this.counts.refillFailures++;
      this.deps.logger?.warn({ err: (error as Error).message }, 'a warm spare sandbox failed to start');
      void discardEntry(this.deps.root, name).catch(() => {});
      // A failing start is retried with a growing delay, not in a loop.
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.refill();
      }, this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(retryMaxMs, this.retryMs * 2);
      return;
    }
    this.retryMs = retryMinMs;
    if (this.closed) {
      await this.stopSpare(spare);
      this.starting--;
      return;
    }
    this.starting--;
    this.ready.push(spare);
    this.deps.onReady();
  }

  /** A spare that ended before anyone used it: its directory goes, a new one is started. */
  private lost(spare: Spare, proc: SandboxProcess): void {
    const index = this.ready.indexOf(spare);
    if (index !== -1) this.ready.splice(index, 1);
    // A spare stopped on purpose has its directory removed by whoever stopped it.
    if (!this.stopping.delete(proc)) {
      this.deps.logger?.warn({ pid: proc.pid }, 'a warm spare sandbox ended unexpectedly; replacing it');
      void discardEntry(this.deps.root, spare.name).catch(() => {});
    }
    this.refill();
  }

  /** Ends a spare taken for a slot that never started (shutdown). */
  dispose(spare: Spare): Promise<void> {
    spare.onExit = (proc) => this.stopping.delete(proc);
    return this.stopSpare(spare);
  }

  private async stopSpare(spare: Spare): Promise<void> {
    this.stopping.add(spare.launched.proc);
    await spare.launched.proc.stop(500);
    await discardEntry(this.deps.root, spare.name).catch(() => {});
  }

  /** Stops every spare, also those still starting, and removes their directories. */
  async shutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await Promise.all(this.ready.splice(0).map((spare) => this.stopSpare(spare)));
    // Starts under way stop themselves when they finish (closed): wait for them.
    while (this.starting > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
