import { describe, expect, it } from 'vitest';
import { defaultPageLimit, InvalidCursorError, maxPageLimit } from '../../src/store/index.js';
import {
  decodeSequenceCursor,
  decodeTimeCursor,
  encodeCursor,
  pageLimit,
} from '../../src/store/pagination.js';

describe('pagination', () => {
  it('defaults and clamps the page size', () => {
    expect(pageLimit(undefined)).toBe(defaultPageLimit);
    expect(pageLimit({})).toBe(50);
    expect(pageLimit({ limit: Number.NaN })).toBe(50);
    expect(pageLimit({ limit: 10 })).toBe(10);
    expect(pageLimit({ limit: 10.7 })).toBe(10);
    expect(pageLimit({ limit: 0 })).toBe(1);
    expect(pageLimit({ limit: -5 })).toBe(1);
    expect(pageLimit({ limit: 5000 })).toBe(maxPageLimit);
    expect(maxPageLimit).toBe(200);
  });

  it('round-trips cursors as opaque base64url', () => {
    const key = { at: '2025-01-02T03:04:05.678Z', id: '0b6a9c57-0a46-4c4e-9d5f-6f6f1b1d2e3f' };
    const cursor = encodeCursor([key.at, key.id]);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeTimeCursor(cursor)).toEqual(key);
    expect(decodeSequenceCursor(encodeCursor([12]))).toBe(12);
  });

  it.each([
    '',
    '!!!',
    'a'.repeat(600),
    encodeCursor([1]),
    encodeCursor(['2025-01-02T03:04:05.678Z']),
    encodeCursor(['2025-01-02', '0b6a9c57-0a46-4c4e-9d5f-6f6f1b1d2e3f']),
    encodeCursor(['2025-13-45T03:04:05.678Z', '0b6a9c57-0a46-4c4e-9d5f-6f6f1b1d2e3f']),
    encodeCursor(['2025-01-02T03:04:05.678Z', 'x']),
    Buffer.from('{}').toString('base64url'),
  ])('refuses the time cursor %j', (cursor) => {
    expect(() => decodeTimeCursor(cursor)).toThrow(InvalidCursorError);
  });

  it.each([encodeCursor(['1']), encodeCursor([1.5]), encodeCursor([-1]), encodeCursor([1, 2])])(
    'refuses the sequence cursor %j',
    (cursor) => {
      expect(() => decodeSequenceCursor(cursor)).toThrow(InvalidCursorError);
    },
  );
});
