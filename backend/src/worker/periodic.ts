import { backoffDelay } from '../lib/backoff.js';

export interface PeriodicOptions {
  /** Also run once at start (default: first run after one interval). */
  immediate?: boolean;
  /** Each wait is the interval ± this fraction (default 0.1), so replicas started together drift apart. */
  jitter?: number;
  /** After a failure the wait doubles (`backoffDelay`) up to this; default 8 × the interval. */
  maxBackoffMs?: number;
  /** Told about a failure; `failures` counts consecutive ones. */
  onError?: (error: unknown, failures: number) => void;
}

export interface Periodic {
  /** Runs the task now unless a run is in progress; resolves when that run is over. */
  runNow(): Promise<void>;
  /** No further runs; resolves when the one in progress is over. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs`, one run at a time (the next wait starts when a run ends), with
 * exponential backoff while it keeps failing. The worker's periodic jobs share it.
 */
export function every(
  intervalMs: number,
  task: () => Promise<void>,
  options: PeriodicOptions = {},
): Periodic {
  const jitter = options.jitter ?? 0.1;
  const maxBackoffMs = options.maxBackoffMs ?? intervalMs * 8;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const schedule = () => {
    if (stopped) return;
    const base =
      failures === 0
        ? intervalMs
        : Math.max(intervalMs, backoffDelay(failures + 1, { baseMs: intervalMs, maxMs: maxBackoffMs }));
    const wait = base * (1 + jitter * (Math.random() * 2 - 1));
    timer = setTimeout(() => void run(), Math.max(0, wait));
    timer.unref();
  };

  const run = (): Promise<void> => {
    if (running) return running;
    if (stopped) return Promise.resolve();
    clearTimeout(timer);
    running = (async () => {
      try {
        await task();
        failures = 0;
      } catch (error) {
        failures += 1;
        options.onError?.(error, failures);
      } finally {
        running = undefined;
        schedule();
      }
    })();
    return running;
  };

  if (options.immediate) void run();
  else schedule();

  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
