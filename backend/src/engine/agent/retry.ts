/**
 * A `fetch` for model providers that retries rate limits (429), overload (529) and server errors
 * (5xx) and dropped connections, with exponential backoff and full jitter, honouring
 * `Retry-After` up to `maxDelayMs`. Authentication and other 4xx answers are returned at once:
 * retrying them cannot help. Retrying here, below the SDK, covers every provider the same way.
 */

export interface RetryOptions {
  maxRetries: number;
  /** First backoff step; doubled on each retry. */
  baseDelayMs: number;
  maxDelayMs: number;
  onRetry?: (info: { retry: number; status: number | null; delayMs: number; reason: string }) => void;
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function retryAfterMs(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function backoffMs(retry: number, options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  // Half fixed, half random: spreads retries of many workers without ever retrying at once.
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function sleep(ms: number, signal: AbortSignal | null | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function retryingFetch(options: RetryOptions, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    for (let retry = 0; ; retry++) {
      let response: Response;
      try {
        response = await base(input, init);
      } catch (error) {
        if (init?.signal?.aborted || retry >= options.maxRetries) throw error;
        const delayMs = backoffMs(retry + 1, options);
        options.onRetry?.({ retry: retry + 1, status: null, delayMs, reason: String(error) });
        await sleep(delayMs, init?.signal);
        continue;
      }
      if (!isRetryableStatus(response.status) || retry >= options.maxRetries) return response;
      const delayMs = Math.min(
        options.maxDelayMs,
        retryAfterMs(response.headers) ?? backoffMs(retry + 1, options),
      );
      await response.body?.cancel().catch(() => undefined);
      options.onRetry?.({
        retry: retry + 1,
        status: response.status,
        delayMs,
        reason: `HTTP ${response.status}`,
      });
      await sleep(delayMs, init?.signal);
    }
  };
}
