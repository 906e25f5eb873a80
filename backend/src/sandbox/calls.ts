/**
 * One RPC call into a sandbox under the pool's limits: a wall-clock limit (over it the process is
 * killed; the pool replaces it), cancellation (asked first, killed after a grace) and, for code
 * runs, the worker's own disk-quota watch over the user's directory.
 */
import { maxPathDepth } from '../store/paths.js';
import type { SandboxProcess } from './process.js';
import type { RpcMethod, RpcMethods } from './protocol.js';
import { type CallOptions, SandboxError } from './types.js';
import { directoryUsage } from './usage.js';

const cancelGraceMs = 500;

export interface QuotaWatch {
  /** The user's directory on the host. */
  dir: string;
  quotaBytes: number;
  maxFiles: number;
  walkLimits: { maxFiles: number; maxDepth: number };
  checkMs: number;
}

/** The quota watch of a code run in `dir`. */
export function quotaWatch(
  dir: string,
  options: { userQuotaBytes: number; userQuotaFiles?: number; quotaCheckMs?: number },
  walkLimits: QuotaWatch['walkLimits'],
): QuotaWatch {
  return {
    dir,
    quotaBytes: options.userQuotaBytes,
    maxFiles: walkLimits.maxFiles - 1,
    walkLimits,
    checkMs: options.quotaCheckMs ?? 250,
  };
}

export interface CallLimits {
  hardTimeoutMs: number;
  /** Set for code runs: the directory is measured while the call runs. */
  quota?: QuotaWatch;
}

export async function callWithLimits<M extends RpcMethod>(
  proc: SandboxProcess,
  method: M,
  params: RpcMethods[M]['params'],
  options: CallOptions,
  limits: CallLimits,
): Promise<RpcMethods[M]['result']> {
  const { id, result } = proc.call(method, params, options.onEvent);
  const timers: NodeJS.Timeout[] = [];
  timers.push(
    setTimeout(
      () =>
        proc.kill(
          new SandboxError(
            'timeout',
            `${method} did not finish within ${limits.hardTimeoutMs} ms; the sandbox was stopped and will be replaced`,
          ),
        ),
      limits.hardTimeoutMs,
    ),
  );
  const onAbort = () => {
    proc.cancel(id);
    timers.push(
      setTimeout(
        () =>
          proc.kill(
            new SandboxError(
              'cancelled',
              `${method} was cancelled; the sandbox was stopped and will be replaced`,
            ),
          ),
        cancelGraceMs,
      ),
    );
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const watch = limits.quota ? watchQuota(proc, limits.quota) : undefined;
  try {
    return await result;
  } finally {
    for (const t of timers) clearTimeout(t);
    watch?.stop();
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Between the runtime's own checks a script could fill the disk; the worker watches too, with a
 * walk that never follows a link (usage.ts). The first reading is the baseline (taken late so a
 * quick run costs no disk walk): only growth past the byte quota after it counts; the runtime
 * checks the total when the run ends. More files or deeper folders than allowed always stop the
 * run: the directory starts from stored files, which are within both.
 */
function watchQuota(proc: SandboxProcess, quota: QuotaWatch): { stop(): void } {
  let baseline: number | undefined;
  let measuring = false;
  let watching = true;
  const timer = setInterval(() => {
    if (measuring) return;
    measuring = true;
    void directoryUsage(quota.dir, quota.walkLimits)
      .then((used) => {
        // A walk that ends after the call must not stop the process serving the next one.
        if (!watching) return;
        baseline ??= used.bytes;
        const reason =
          used.exceeded === 'depth'
            ? `folders nested more than ${maxPathDepth} levels deep`
            : used.exceeded === 'files'
              ? `more than ${quota.maxFiles} files, over the file quota`
              : used.bytes > quota.quotaBytes && used.bytes > baseline
                ? `${used.bytes} bytes of disk, over the quota of ${quota.quotaBytes}`
                : undefined;
        if (reason)
          proc.kill(new SandboxError('quota_exceeded', `the run used ${reason}; the sandbox was stopped`));
      })
      .finally(() => {
        measuring = false;
      });
  }, quota.checkMs);
  return {
    stop() {
      watching = false;
      clearInterval(timer);
    },
  };
}
