/**
 * Keeps the users' sandbox directories on this worker within a disk budget
 * (`SANDBOX_DISK_BUDGET_BYTES`; the chart sizes the sandbox `emptyDir` from the same value). A
 * user's directory is a cache of their stored files, so the least recently used ones may go; the
 * directory of a user whose sandbox is in use never does. Without this, every user a worker ever
 * served leaves a directory behind until the pod is evicted for its disk use.
 *
 * Sizes come from the link-free walk (`usage.ts`): measured once for the directories found at
 * start, then again after each release of a user's lease (only a leased sandbox runs code, so a
 * directory changes only while its user's lease is held).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { directoryUsage } from './usage.js';
import { isUserId } from './workspace.js';

export interface DiskBudgetOptions {
  root: string;
  /** Bytes all users' directories may take together; 0 = no budget. */
  budgetBytes: number;
  /** Bounds of one walk (a directory past them counts what was seen). */
  walkLimits: { maxFiles: number; maxDepth: number };
  /**
   * Removes one user's directory, unless that user's sandbox is in use; resolves false when it
   * was left alone. The pool holds the user's next acquire back until it settles.
   */
  evict: (userId: string) => Promise<boolean>;
  logger?: Logger;
}

interface Entry {
  bytes: number;
  lastUsed: number;
}

export class DiskBudget {
  private readonly entries = new Map<string, Entry>();
  private evictions = 0;
  /** Measurements and evictions run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: DiskBudgetOptions) {}

  get enabled(): boolean {
    return this.options.budgetBytes > 0;
  }

  /** Takes stock of the directories already on disk (a restarted worker's `emptyDir` may hold some). */
  start(): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.serially(async () => {
      const names = await fs.readdir(this.options.root).catch(() => [] as string[]);
      for (const name of names) {
        if (!isUserId(name) || this.entries.has(name)) continue;
        const stat = await fs.lstat(path.join(this.options.root, name)).catch(() => undefined);
        if (!stat?.isDirectory()) continue;
        this.entries.set(name, { bytes: await this.measure(name), lastUsed: stat.mtimeMs });
      }
      await this.enforce();
    });
  }

  /** A user's lease was released: measure their directory and keep the total within the budget. */
  used(userId: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.serially(async () => {
      this.entries.set(userId, { bytes: await this.measure(userId), lastUsed: Date.now() });
      await this.enforce();
    });
  }

  /** The user's directory is gone (reset, discard): it no longer counts. */
  forget(userId: string): void {
    this.entries.delete(userId);
  }

  figures(): { diskBytes: number; diskEvictions: number } {
    return { diskBytes: this.total(), diskEvictions: this.evictions };
  }

  private total(): number {
    let bytes = 0;
    for (const entry of this.entries.values()) bytes += entry.bytes;
    return bytes;
  }

  private async measure(userId: string): Promise<number> {
    const usage = await directoryUsage(path.join(this.options.root, userId), this.options.walkLimits);
    return usage.bytes;
  }

  /** Evicts the least recently used directories until the rest fit; skips the ones in use. */
  private async enforce(): Promise<void> {
    let total = this.total();
    if (total <= this.options.budgetBytes) return;
    const oldestFirst = [...this.entries].sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [userId, entry] of oldestFirst) {
      if (total <= this.options.budgetBytes) break;
      const evicted = await this.options.evict(userId).catch((error: Error) => {
        this.options.logger?.warn({ userId, err: error.message }, 'evicting a sandbox directory failed');
        return false;
      });
      if (!evicted) continue;
      this.entries.delete(userId);
      this.evictions++;
      total -= entry.bytes;
    }
    if (total > this.options.budgetBytes)
      this.options.logger?.warn(
        { usedBytes: total, budgetBytes: this.options.budgetBytes },
        'sandbox directories in use exceed the disk budget',
      );
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work, work);
    this.queue = next.catch((error: Error) =>
      this.options.logger?.warn({ err: error.message }, 'sandbox disk budget check failed'),
    );
    return this.queue;
  }
}
