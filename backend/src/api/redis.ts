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

/** How long a submission may reuse a non-empty list of live workers. */
export const recentWorkersMs = 1000;
const recent = new WeakMap<Services, { at: number; workers: WorkerHeartbeat[] }>();

/**
 * Live workers for a submission's language check, reused for `recentWorkersMs` when some were
 * found (saves two Redis round trips per submission). Only for accepting: a caller that would
 * refuse on this list asks `liveWorkers` again first, so a stale list can never refuse wrongly
 * (at worst it accepts, and the worker then refuses the language itself).
 */
export async function recentWorkers(services: Services): Promise<WorkerHeartbeat[]> {
  const hit = recent.get(services);
  if (hit && Date.now() - hit.at < recentWorkersMs) return hit.workers;
  const workers = await liveWorkers(services);
  if (workers.length > 0) recent.set(services, { at: Date.now(), workers });
  else recent.delete(services);
  return workers;
}
