import type { Redis } from 'ioredis';
import { reconnectDelayMs } from '../lib/backoff.js';
import type { Logger } from '../observability/logger.js';
import { compareEventIds, type ParsedEventId, parseEventId } from './ids.js';
import type { ExecutionEvent } from './types.js';

type Entries = Array<[id: string, fields: string[]]>;
type StreamReply = Array<[key: string, entries: Entries]>;

export interface Waiter {
  /** Redis key of the execution's stream. */
  key: string;
  afterId: string;
  count: number | undefined;
  resolve: (events: ExecutionEvent[]) => void;
}

function isAfter(a: ParsedEventId, b: ParsedEventId): boolean {
  return a.ms > b.ms || (a.ms === b.ms && a.seq > b.seq);
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

export interface BlockedReadersOptions {
  /** Dedicated connection: it spends its life inside `XREAD BLOCK` on the notification stream. */
  connection: Redis;
  /** Command connection for the `XRANGE` that fetches a woken stream's new events. */
  commands: Redis;
  /** The notification stream every append also writes its stream key to. */
  notifyKey: string;
  logger: Logger;
  /** Longest single XREAD block (the loop only re-checks its state in between). Default 5000. */
  blockMs?: number;
  /** Entries per XREAD / XRANGE. Default 1000. */
  batch?: number;
}

/**
 * Serves any number of blocked readers of this process with ONE extra Redis connection.
 *
 * Every append writes its event to the execution's stream AND, in the same MULTI, the stream's key
 * to one capped notification stream. This reader sits in `XREAD BLOCK` on that notification stream
 * only; when a notification names a stream that has local waiters it fetches the stream's new
 * entries with one `XRANGE` (concurrent notifications of one stream share it) and hands each waiter
 * the events after its own id. The XREAD never needs interrupting: whatever streams are waited on,
 * it watches the same single key.
 *
 * Why not one `XREAD BLOCK` over every waited-on stream (the obvious multiplexing)? Each wake-up
 * re-sends and re-registers the whole key list, so its cost grows with the number of waiters:
 * measured here with 10,000 waiting readers, append → wake was 35 ms p50 / 176 ms p99, against
 * well under 1 ms with the notification stream, whose cost per event does not depend on it.
 *
 * No wake-up is lost: a waiter is registered before its own first XRANGE, so an append either is
 * seen by that XRANGE or its notification arrives after the waiter exists. After a start or a lost
 * connection the reader re-reads the notification stream from its newest entry and re-fetches every
 * waited-on stream, so appends made meanwhile are not missed either.
 */
export class BlockedReaders {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly fetching = new Set<string>();
  private readonly fetchAgain = new Set<string>();
  private readonly connection: Redis;
  private readonly commands: Redis;
  private readonly notifyKey: string;
  private readonly logger: Logger;
  private readonly blockMs: number;
  private readonly batch: number;
  /** Rejects the XREAD in flight when its connection drops (ioredis would leave it pending). */
  private failInFlight: ((err: Error) => void) | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(options: BlockedReadersOptions) {
    this.connection = options.connection;
    this.commands = options.commands;
    this.notifyKey = options.notifyKey;
    this.logger = options.logger;
    this.blockMs = options.blockMs ?? 5000;
    this.batch = options.batch ?? 1000;
    this.connection.on('close', () => this.failInFlight?.(new Error('blocking connection lost')));
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  add(waiter: Waiter): void {
    let set = this.waiters.get(waiter.key);
    if (!set) {
      set = new Set();
      this.waiters.set(waiter.key, set);
    }
    set.add(waiter);
    this.loop ??= this.run();
  }

  remove(waiter: Waiter): void {
    const set = this.waiters.get(waiter.key);
    if (!set?.delete(waiter)) return;
    if (set.size === 0) this.waiters.delete(waiter.key);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.resolve([]);
    this.waiters.clear();
    this.connection.disconnect();
    await this.loop;
  }

  /** Fetches the stream's entries after its oldest waiter's id and wakes the waiters they concern. */
  private fetch(key: string): void {
    if (this.fetching.has(key)) {
      this.fetchAgain.add(key);
      return;
    }
    const set = this.waiters.get(key);
    if (!set || set.size === 0) return;
    let from: string | undefined;
    let limit = 0;
    for (const waiter of set) {
      if (from === undefined || compareEventIds(waiter.afterId, from) < 0) from = waiter.afterId;
      limit = Math.max(limit, waiter.count ?? this.batch);
    }
    this.fetching.add(key);
    (
      this.commands.call(
        'XRANGE',
        key,
        `(${from}`,
        '+',
        'COUNT',
        Math.min(limit, this.batch),
      ) as Promise<Entries>
    )
      .then(
        (entries) => this.deliver(key, entries),
        (err: Error) =>
          this.logger.warn({ err: err.message, key }, 'fetching events for blocked readers failed'),
      )
      .finally(() => {
        this.fetching.delete(key);
        if (this.fetchAgain.delete(key) && !this.closed) this.fetch(key);
      });
  }

  private deliver(key: string, entries: Entries): void {
    const set = this.waiters.get(key);
    if (!set || entries.length === 0) return;
    const events = entries.map(toEvent);
    const shared = set.size > 1;
    const ids = events.map((e) => parseEventId(e.id));
    for (const waiter of [...set]) {
      const after = parseEventId(waiter.afterId);
      let first = 0;
      while (first < ids.length && !isAfter(ids[first]!, after)) first += 1;
      if (first === events.length) continue;
      const mine = events.slice(first, waiter.count === undefined ? undefined : first + waiter.count);
      // Readers of one stream each get their own copy; a lone reader gets the parsed objects.
      waiter.resolve(shared ? mine.map((e) => ({ ...e, data: structuredClone(e.data) })) : mine);
    }
    // A waiter further behind than the batch reached (a rare, very long backlog) needs another look.
    if (this.waiters.get(key)?.size && entries.length >= this.batch) this.fetchAgain.add(key);
  }

  private async run(): Promise<void> {
    let lastId: string | undefined;
    let failures = 0;
    while (!this.closed) {
      try {
        if (lastId === undefined) {
          // (Re)start: read on from the newest notification and look at every waited-on stream
          // once, for appends made before this point that no XREAD will report.
          const newest = (await this.connection.call(
            'XREVRANGE',
            this.notifyKey,
            '+',
            '-',
            'COUNT',
            1,
          )) as Entries;
          lastId = newest[0]?.[0] ?? '0-0';
          for (const key of this.waiters.keys()) this.fetch(key);
        }
        const lost = new Promise<never>((_, reject) => {
          this.failInFlight = reject;
        });
        const reply = (await Promise.race([
          this.connection.call(
            'XREAD',
            'COUNT',
            this.batch,
            'BLOCK',
            this.blockMs,
            'STREAMS',
            this.notifyKey,
            lastId,
          ),
          lost,
        ])) as StreamReply | null;
        this.failInFlight = undefined;
        failures = 0;
        const entries = reply?.[0]?.[1];
        if (!entries || entries.length === 0) continue;
        lastId = entries[entries.length - 1]![0];
        const woken = new Set<string>();
        for (const [, fields] of entries) {
          const key = fields[1];
          if (key !== undefined && this.waiters.has(key)) woken.add(key);
        }
        for (const key of woken) this.fetch(key);
      } catch (err) {
        this.failInFlight = undefined;
        if (this.closed) break;
        lastId = undefined;
        failures += 1;
        if (failures === 1 || failures % 50 === 0) {
          this.logger.warn({ err: (err as Error).message, failures }, 'blocking event read failed; retrying');
        }
        await new Promise((r) => setTimeout(r, reconnectDelayMs(failures)));
      }
    }
  }
}
