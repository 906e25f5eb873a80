/**
 * The two fixed waits a test may have. Anything that happens (a process exits, a row changes, an
 * event arrives) is awaited with `vi.waitFor` / `expect.poll` instead; these are for what leaves
 * no signal to wait for. Each call site says why its wait is fixed.
 */

/** A window in which something must NOT happen: long enough that it would have happened by then. */
export function quietWindow(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Time that has to pass on purpose (a TTL, a lease, a backoff, pacing): nothing marks its end. */
export function letTimePass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
