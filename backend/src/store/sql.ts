import { isUuid } from '../lib/vocabulary.js';
import type { Database, Queryable } from './types.js';

/** Small conversions between driver values and the platform's records, shared by the repositories. */

/** Ids arrive from URLs; a malformed one is "not found", never a database error. */
export { isUuid };

/** Writes name their owner by id; a malformed one is the caller's mistake, said plainly. */
export function requireUuid(value: unknown, what: string): string {
  if (!isUuid(value)) throw new RangeError(`${what} is not a valid id`);
  return value;
}

/** Both drivers hand timestamps back as Date; records carry ISO-8601 strings. */
export function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}

export function toIsoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : toIso(value);
}

/** `pg` returns int8 as a string, PGlite as a number; both fit a JS number for our sizes and counts. */
/** A LIKE pattern matching `text` anywhere, its `%`, `_` and `\\` taken literally (ESCAPE '\\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function toNumberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/**
 * jsonb parameters go in as text (`$n::jsonb`) so both drivers store exactly this JSON (`pg` would
 * turn a JS array into a PostgreSQL array). Absent and null values become SQL NULL.
 */
export function jsonParam(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** PGlite returns bytea as a plain Uint8Array; callers get a Buffer without copying. */
export function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError('expected binary column value');
}

export const terminalStatusList = "('succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')";

/**
 * Runs `work` in a new transaction, or in the caller's when `db` is already a transaction's
 * handle (a repository bound by `Store.transaction`).
 */
export function inTransaction<T>(db: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const database = db as Partial<Database>;
  return typeof database.transaction === 'function' ? database.transaction(work) : work(db);
}
