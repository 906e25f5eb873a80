import { isUuid } from '../lib/vocabulary.js';
import type { Page, PageRequest } from './types.js';

export const defaultPageLimit = 50;
export const maxPageLimit = 200;

/** A cursor that was not produced by this store (or was tampered with): the API answers 400. */
export class InvalidCursorError extends Error {
  constructor(readonly cursor: string) {
    super('invalid pagination cursor');
    this.name = 'InvalidCursorError';
  }
}

export function pageLimit(page: PageRequest | undefined): number {
  const limit = page?.limit;
  if (limit === undefined || !Number.isFinite(limit)) return defaultPageLimit;
  return Math.min(maxPageLimit, Math.max(1, Math.floor(limit)));
}

/** Cursors are opaque to clients: base64url of a JSON array holding the last row's sort key. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeKey(cursor: string): unknown[] {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 512 || !/^[\w-]+$/.test(cursor)) {
    throw new InvalidCursorError(String(cursor));
  }
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(cursor);
  }
  if (!Array.isArray(key)) throw new InvalidCursorError(cursor);
  return key;
}

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Sort key of tables paged by creation time: (created_at, id). */
export interface TimeKey {
  at: string;
  id: string;
}

export function decodeTimeCursor(cursor: string): TimeKey {
  const key = decodeKey(cursor);
  const [at, id] = key;
  if (
    key.length !== 2 ||
    typeof at !== 'string' ||
    !isoPattern.test(at) ||
    Number.isNaN(Date.parse(at)) ||
    typeof id !== 'string' ||
    !isUuid(id)
  ) {
    throw new InvalidCursorError(cursor);
  }
  return { at, id };
}

/** Sort key of tables paged by an insertion sequence (messages keep their exact order). */
export function decodeSequenceCursor(cursor: string): number {
  const key = decodeKey(cursor);
  const [seq] = key;
  if (key.length !== 1 || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidCursorError(cursor);
  }
  return seq;
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says that another page exists.
 */
export function toPage<Row, T>(
  rows: Row[],
  limit: number,
  map: (row: Row) => T,
  keyOf: (row: Row) => (string | number)[],
): Page<T> {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows.at(-1);
  return {
    items: pageRows.map(map),
    nextCursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
