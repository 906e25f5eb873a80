import { InvalidEventIdError } from './types.js';

const maxPart = 2n ** 64n - 1n;
const idPattern = /^(\d{1,20})-(\d{1,20})$/;

export interface ParsedEventId {
  ms: bigint;
  seq: bigint;
}

/** Parses a stream id `<ms>-<seq>` (both unsigned 64-bit, as Redis has them). */
export function parseEventId(id: unknown): ParsedEventId {
  const match = typeof id === 'string' ? idPattern.exec(id) : null;
  if (!match) throw new InvalidEventIdError(String(id));
  const ms = BigInt(match[1]!);
  const seq = BigInt(match[2]!);
  if (ms > maxPart || seq > maxPart) throw new InvalidEventIdError(String(id));
  return { ms, seq };
}

/** Throws `InvalidEventIdError` unless `id` is a well-formed stream id. */
export function assertEventId(id: unknown): asserts id is string {
  parseEventId(id);
}

/** Orders two valid stream ids: negative when `a` is older than `b`. */
export function compareEventIds(a: string, b: string): number {
  const x = parseEventId(a);
  const y = parseEventId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  if (x.seq !== y.seq) return x.seq < y.seq ? -1 : 1;
  return 0;
}

/** Execution ids become Redis keys: keep them to a safe alphabet. */
export function assertExecutionId(executionId: unknown): asserts executionId is string {
  if (typeof executionId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(executionId)) {
    throw new TypeError(`invalid execution id ${JSON.stringify(executionId)}`);
  }
}
