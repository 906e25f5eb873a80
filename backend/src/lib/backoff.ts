/** How a wait grows between attempts: the one backoff formula of the backend. */
export interface BackoffOptions {
  /** The first wait. */
  baseMs: number;
  /** Never wait longer than this. */
  maxMs?: number;
  /** `doubling` (base × 2^(attempt−1)) or `linear` (base × attempt, for reconnect loops). */
  growth?: 'doubling' | 'linear';
  /**
   * Half fixed, half random: spreads the retries of many processes that failed together without
   * ever retrying at once.
   */
  jitter?: boolean;
}

/** The wait before attempt `attempt` (1 = the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs = Number.POSITIVE_INFINITY, growth = 'doubling', jitter = false } = options;
  const step = Math.max(1, attempt);
  const ceiling = Math.min(maxMs, growth === 'linear' ? baseMs * step : baseMs * 2 ** (step - 1));
  return jitter ? Math.round(ceiling / 2 + Math.random() * (ceiling / 2)) : ceiling;
}

/**
 * Reconnect delay of a Redis connection or loop: grows 100 ms per attempt, capped at 2 s, so a
 * restarted Redis is found fast (and ten reconnects span about 5 s, a Sentinel failover).
 */
export function reconnectDelayMs(attempt: number): number {
  return backoffDelay(attempt, { baseMs: 100, maxMs: 2000, growth: 'linear' });
}
