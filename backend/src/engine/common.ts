import { SandboxError, type SandboxLease, type SandboxOrchestrator } from '../sandbox/types.js';
import { abortCodeOf, type ExecutionContext, type ExecutionOutcome } from '../worker/executor.js';
import { type FileSync, FileSyncQuotaError } from '../worker/file-sync.js';

/** Pieces both executors share: failures, aborts, the lease and the write-back of files. */

export function failed(code: string, message: string, result?: unknown): ExecutionOutcome {
  return result === undefined
    ? { status: 'failed', error: { code, message } }
    : { status: 'failed', error: { code, message }, result };
}

/**
 * The outcome for an execution whose signal fired. The worker decides the final status from the
 * signal's reason; this only keeps the executor's answer consistent with it.
 */
export function abortOutcome(signal: AbortSignal): ExecutionOutcome {
  return abortCodeOf(signal) === 'timed_out' ? { status: 'timed_out' } : { status: 'cancelled' };
}

/** A sandbox error as an execution failure; undefined for anything else. */
export function sandboxFailure(error: unknown): ExecutionOutcome | undefined {
  if (error instanceof FileSyncQuotaError) return failed('quota_exceeded', error.message);
  if (!(error instanceof SandboxError)) return undefined;
  if (error.code === 'timeout')
    return { status: 'timed_out', error: { code: 'timeout', message: error.message } };
  const code = error.code === 'crashed' ? 'sandbox_crashed' : `sandbox_${error.code}`;
  return failed(code, error.message);
}

/** Waits for the user's sandbox; an outcome instead of a lease when that fails or is cancelled. */
export async function acquireLease(
  orchestrator: SandboxOrchestrator,
  userId: string,
  signal: AbortSignal,
): Promise<SandboxLease | ExecutionOutcome> {
  try {
    return await orchestrator.acquire(userId, { signal });
  } catch (error) {
    if (signal.aborted) return abortOutcome(signal);
    return (
      sandboxFailure(error) ??
      failed('sandbox_unavailable', `no sandbox could be started for the user: ${(error as Error).message}`)
    );
  }
}

/**
 * Writes the execution's file changes back to the database and announces each as a
 * `file.changed` event. Returns a failed outcome when they do not fit the user's quota.
 */
export async function commitFiles(
  fileSync: FileSync,
  context: ExecutionContext,
): Promise<ExecutionOutcome | undefined> {
  try {
    await fileSync.commit(context.execution.userId, {
      onChange: (change) =>
        context.emit('file.changed', {
          path: change.path,
          change: change.change,
          ...(change.size === undefined ? {} : { size: change.size }),
        }),
    });
    return undefined;
  } catch (error) {
    if (error instanceof FileSyncQuotaError) return failed('quota_exceeded', error.message);
    throw error;
  }
}
