/**
 * The one way to bound a wait. The promise itself is left to settle (there is nothing to cancel
 * it with); only the caller stops waiting. Where the work takes an AbortSignal, pass
 * `AbortSignal.timeout(ms)` instead.
 */

/** Rejected by `withTimeout` when the promise has not settled in time. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Settles like `promise`, or rejects with a `TimeoutError` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The promise's value, or undefined when it fails or takes longer than `ms` (stale-but-fast reads). */
export function valueWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return withTimeout(promise, ms, 'value').catch(() => undefined);
}
