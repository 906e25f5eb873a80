import { backoffDelay } from '../../lib/backoff.js';

/**
 * A `fetch` for model providers that retries 408, 409, 429 and every 5xx answer, and requests
 * that failed before any answer (refused or reset connections), with doubling backoff and half
 * jitter, honouring `Retry-After` / `retry-after-ms` up to `maxDelayMs`. Authentication and other
 * 4xx answers are returned at once: retrying them cannot help. A stream cut after its answer began
 * is not retried (that turn fails).
 *
 * Why not the AI SDK's own `maxRetries` (the SDK retries the same statuses): `streamText` lets us
 * set only the count. Its delays are fixed (2 s, doubling, no jitter), so many workers that met
 * the same rate limit retry in lockstep and tests cannot shorten them; it waits out any
 * `Retry-After` below 60 s whatever our ceiling; and it wraps the last failure in a `RetryError`
 * whose message no longer names the provider's answer. The SDK's retries are therefore off
 * (`maxRetries: 0` in the agent executor) and this is the only retry of a model call.
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
  return backoffDelay(retry, { baseMs: options.baseDelayMs, maxMs: options.maxDelayMs, jitter: true });
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
