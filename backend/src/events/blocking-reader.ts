import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { compareEventIds } from './ids.js';
import type { ExecutionEvent } from './types.js';

type StreamReply = Array<[key: string, entries: Array<[id: string, fields: string[]]>]>;

export interface Waiter {
  key: string;
  afterId: string;
  count: number | undefined;
  resolve: (events: ExecutionEvent[]) => void;
}

interface Watched {
  /** The id XREAD reads after: never later than any waiter's `afterId`. */
  id: string;
  waiters: Set<Waiter>;
  /** When the last waiter left; the stream stays watched a little while for the next one. */
  idleSince: number | undefined;
}

export function toEvent([id, fields]: [string, string[]]): ExecutionEvent {
  let type = '';
  let data: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') type = fields[i + 1]!;
    else if (fields[i] === 'd') {
      try {
        data = JSON.parse(fields[i + 1]!) as Record<string, unknown>;
      } catch {
        data = {};
      }
    }
  }
  return { id, type: type as ExecutionEvent['type'], data };
}

export interface BlockingReaderOptions {
  /** Dedicated connection: it spends its life inside XREAD BLOCK. */
  connection: Redis;
  /** Any other connection, used to interrupt the blocked one with CLIENT UNBLOCK. */
  control: Redis;
  logger: Logger;
  /** Longest single XREAD block; waiters' own timeouts are timers, not this. */
  blockMs?: number;
  /** How long a stream without waiters stays in the XREAD (an SSE client re-reads right away). */
  lingerMs?: number;
  /** Entries per stream per XREAD. */
  batch?: number;
}

/**
 * Serves any number of blocked readers with ONE Redis connection: it runs
 * `XREAD BLOCK … STREAMS <every watched stream> <its id>` in a loop and hands each returned entry to
 * the waiters of its stream. A waiter on a stream the running XREAD does not cover interrupts it
 * with `CLIENT UNBLOCK` (sent on the control connection), and the loop re-issues it with the new
 * stream. No wake-up is lost: a waiter is registered with the id it read up to, and XREAD returns
 * everything after that id, including entries appended between the waiter's own read and the XREAD.
 * Where CLIENT UNBLOCK is not allowed (some managed Redis), the loop falls back to short blocks.
 */
export class BlockingReader {
  private readonly watched = new Map<string, Watched>();
  private readonly connection: Redis;
  private readonly control: Redis;
  private readonly logger: Logger;
  private readonly lingerMs: number;
  private readonly batch: number;
  private blockMs: number;
  private unblockAllowed = true;
  private clientId: string | undefined;
  /** Streams and ids of the XREAD now at Redis; undefined between two XREADs. */
  private inFlight: Map<string, string> | undefined;
  private generation = 0;
  private unblocking = false;
  private unblockAgain = false;
  private wakeIdle: (() => void) | undefined;
  /** Rejects the XREAD in flight when its connection drops (ioredis would leave it pending). */
  private failInFlight: ((err: Error) => void) | undefined;
  private closed = false;
  private readonly loop: Promise<void>;

  constructor(options: BlockingReaderOptions) {
    this.connection = options.connection;
    this.control = options.control;
    this.logger = options.logger;
    this.blockMs = options.blockMs ?? 5000;
    this.lingerMs = options.lingerMs ?? 5000;
    this.batch = options.batch ?? 500;
    // A new connection has a new client id; the XREAD it carried failed and the loop re-reads it.
    this.connection.on('close', () => {
      this.clientId = undefined;
      this.failInFlight?.(new Error('blocking connection lost'));
    });
    this.loop = this.run();
  }

  get waiting(): number {
    let n = 0;
    for (const w of this.watched.values()) n += w.waiters.size;
    return n;
  }

  add(waiter: Waiter): void {
    let entry = this.watched.get(waiter.key);
    if (!entry) {
      entry = { id: waiter.afterId, waiters: new Set(), idleSince: undefined };
      this.watched.set(waiter.key, entry);
    } else if (compareEventIds(waiter.afterId, entry.id) < 0) {
      entry.id = waiter.afterId;
    }
    entry.waiters.add(waiter);
    entry.idleSince = undefined;
    if (this.wakeIdle) {
      this.wakeIdle();
      return;
    }
    const covered = this.inFlight?.get(waiter.key);
    if (this.inFlight && (covered === undefined || compareEventIds(waiter.afterId, covered) < 0)) {
      this.interrupt();
    }
  }

  remove(waiter: Waiter): void {
    const entry = this.watched.get(waiter.key);
    if (!entry?.waiters.delete(waiter)) return;
    if (entry.waiters.size === 0) entry.idleSince = Date.now();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeIdle?.();
    for (const entry of this.watched.values()) for (const waiter of [...entry.waiters]) waiter.resolve([]);
    this.watched.clear();
    this.connection.disconnect();
    await this.loop;
  }

  /** Ends the running XREAD early so the next one covers new streams. Coalesces bursts of waiters. */
  private interrupt(): void {
    if (this.unblocking) {
      this.unblockAgain = true;
      return;
    }
    if (this.clientId === undefined || !this.unblockAllowed) return;
    this.unblocking = true;
    const generation = this.generation;
    const clientId = this.clientId;
    const attempt = async (): Promise<void> => {
      for (let tries = 0; tries < 200; tries++) {
        if (this.closed || this.generation !== generation || !this.inFlight) return;
        const unblocked = (await this.control.call('CLIENT', 'UNBLOCK', clientId)) as number;
        if (unblocked === 1) return;
        // 0: the XREAD was sent but has not reached Redis yet (it travels on another connection),
        // or has just returned. Try again shortly unless the loop has moved on by itself.
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    attempt()
      .catch((err: Error) => {
        // Not permitted (ACL, managed Redis): poll with short blocks instead of interrupting.
        this.logger.warn(
          { err: err.message },
          'CLIENT UNBLOCK refused; event readers fall back to 100 ms polls',
        );
        this.unblockAllowed = false;
        this.blockMs = Math.min(this.blockMs, 100);
      })
      .finally(() => {
        this.unblocking = false;
        if (this.unblockAgain) {
          this.unblockAgain = false;
          if (this.inFlight && this.generation !== generation) this.interrupt();
        }
      });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      this.dropIdleStreams();
      if (this.watched.size === 0) {
        await new Promise<void>((resolve) => {
          this.wakeIdle = resolve;
        });
        this.wakeIdle = undefined;
        continue;
      }
      // Let waiters that register in this same tick (a burst of SSE clients) join this XREAD.
      await new Promise((r) => setImmediate(r));
      if (this.closed) break;
      let reply: StreamReply | null;
      try {
        if (this.clientId === undefined) this.clientId = String(await this.connection.call('CLIENT', 'ID'));
        const keys = [...this.watched.keys()];
        const ids = keys.map((k) => this.watched.get(k)!.id);
        this.inFlight = new Map(keys.map((k, i) => [k, ids[i]!]));
        this.generation += 1;
        const lost = new Promise<never>((_, reject) => {
          this.failInFlight = reject;
        });
        reply = (await Promise.race([
          this.connection.call(
            'XREAD',
            'COUNT',
            this.batch,
            'BLOCK',
            this.blockMs,
            'STREAMS',
            ...keys,
            ...ids,
          ),
          lost,
        ])) as StreamReply | null;
        this.failInFlight = undefined;
        failures = 0;
      } catch (err) {
        this.failInFlight = undefined;
        this.inFlight = undefined;
        if (this.closed) break;
        failures += 1;
        this.clientId = undefined;
        if (failures === 1 || failures % 50 === 0) {
          this.logger.warn({ err: (err as Error).message, failures }, 'blocking event read failed; retrying');
        }
        await new Promise((r) => setTimeout(r, Math.min(failures * 100, 2000)));
        continue;
      }
      this.inFlight = undefined;
      if (reply) this.deliver(reply);
    }
  }

  private deliver(reply: StreamReply): void {
    for (const [key, entries] of reply) {
      const entry = this.watched.get(key);
      if (!entry || entries.length === 0) continue;
      const events = entries.map(toEvent);
      entry.id = events[events.length - 1]!.id;
      const shared = entry.waiters.size > 1;
      for (const waiter of [...entry.waiters]) {
        let first = 0;
        while (first < events.length && compareEventIds(events[first]!.id, waiter.afterId) <= 0) first += 1;
        if (first === events.length) {
          // Nothing new for this waiter: keep the XREAD id at or before what it has seen.
          if (compareEventIds(waiter.afterId, entry.id) < 0) entry.id = waiter.afterId;
          continue;
        }
        const mine = events.slice(first, waiter.count === undefined ? undefined : first + waiter.count);
        // Readers of one stream each get their own copy; a lone reader gets the parsed objects.
        waiter.resolve(shared ? mine.map((e) => ({ ...e, data: structuredClone(e.data) })) : mine);
      }
    }
  }

  private dropIdleStreams(): void {
    const cutoff = Date.now() - this.lingerMs;
    for (const [key, entry] of this.watched) {
      if (entry.waiters.size === 0 && (entry.idleSince ?? 0) <= cutoff) this.watched.delete(key);
    }
  }
}
