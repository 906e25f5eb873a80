import type { ByteRange } from '../../../blobs/types.js';
import { ApiError } from '../../errors.js';

/**
 * The one range of a `Range: bytes=…` header (RFC 9110 §14), resolved against the file size.
 * Undefined when there is no header, it is not a single byte range (the whole file is sent then,
 * as the RFC allows), or `If-Range` names another version. A range that starts past the end is
 * a 416 that tells the size.
 */
export function requestedRange(
  header: string | undefined,
  size: number,
  ifRange: string | undefined,
  etag: string,
): ByteRange | undefined {
  if (!header || (ifRange !== undefined && ifRange !== etag)) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [first, last] = [match[1] as string, match[2] as string];
  let start: number;
  let end: number;
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0) throw unsatisfiable(size);
    start = Math.max(0, size - length);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== '' && Number(last) < start) return undefined;
  }
  if (!Number.isSafeInteger(start) || start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): ApiError {
  return new ApiError(416, 'range_not_satisfiable', `The range lies outside the file (${size} bytes).`, {
    size,
  });
}
