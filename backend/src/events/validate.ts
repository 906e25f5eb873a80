import { type EventType, eventTypes, type ReadOptions } from './types.js';

export function assertEventType(type: unknown): asserts type is EventType {
  if (typeof type !== 'string' || !(eventTypes as readonly string[]).includes(type)) {
    throw new TypeError(`unknown event type ${JSON.stringify(type)}`);
  }
}

/** Serialises event data the way both logs store it, so both hand back exactly the same shape. */
export function serialiseData(data: Record<string, unknown>): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError('event data must be a JSON object');
  }
  return JSON.stringify(data);
}

export interface NormalisedReadOptions {
  blockMs: number;
  count: number | undefined;
  signal: AbortSignal | undefined;
}

export function normaliseReadOptions(options: ReadOptions = {}): NormalisedReadOptions {
  const blockMs = options.blockMs ?? 0;
  if (!Number.isFinite(blockMs) || blockMs < 0) throw new RangeError('blockMs must be a number ≥ 0');
  const count = options.count;
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new RangeError('count must be an integer ≥ 1');
  }
  return { blockMs: Math.floor(blockMs), count, signal: options.signal };
}

export function assertTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)
    throw new RangeError('ttlSeconds must be an integer ≥ 1');
}
