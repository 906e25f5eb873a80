import { withTimeout } from '../lib/timeout.js';
import type { WorkerHeartbeat } from '../queue/types.js';
import type { Services } from '../services.js';
import { unavailable } from './errors.js';

/** Longest a request waits for Redis before it answers 503 instead of hanging. */
export const redisCallTimeoutMs = 5000;

/**
 * True when the shared Redis connection is known to be down. Requests that need Redis then
 * answer 503 at once rather than waiting for reconnection attempts.
 */
export function redisKnownDown(services: Services): boolean {
  return services.redisKnownDown();
}

/**
 * Runs a Redis-backed call for a request: 503 `unavailable` when Redis is down, slow or failing.
 * Errors that `isClientError` recognises (the caller's mistake, not an outage) pass unchanged.
 */
export async function viaRedis<T>(
  services: Services,
  what: string,
  call: () => Promise<T>,
  isClientError: (err: unknown) => boolean = () => false,
): Promise<T> {
  if (redisKnownDown(services)) throw unavailable(`The ${what} is unavailable; please try again shortly.`);
  try {
    return await withTimeout(call(), redisCallTimeoutMs, what);
  } catch (err) {
    if (isClientError(err)) throw err;
    services.logger.warn({ err, what }, 'a Redis-backed call failed during a request');
    throw unavailable(`The ${what} is unavailable; please try again shortly.`);
  }
}

/** Live workers' heartbeats for a request that only uses them to refine its answer: never fails. */
export async function liveWorkers(services: Services): Promise<WorkerHeartbeat[]> {
  if (redisKnownDown(services)) return [];
  return withTimeout(services.workers.list(), 1000, 'worker registry').catch(() => []);
}
