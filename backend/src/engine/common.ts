import { SandboxError, type SandboxLease, type SandboxOrchestrator } from '../sandbox/types.js';
import { abortCodeOf, type ExecutionOutcome } from '../worker/executor.js';
import { FileLimitError, type FileSync, type FileWriteBack } from '../worker/file-sync.js';

/** Pieces both executors share: failures, aborts, the lease and the collection of changed files. */

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
  if (error instanceof FileLimitError) return failed(error.code, error.message);
  if (!(error instanceof SandboxError)) return undefined;
  // The quota watcher stopped the run: the same failure as files over the quota at the end.
  if (error.code === 'quota_exceeded') return failed('quota_exceeded', error.message);
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
 * The files the execution changed, as a write-back the worker stores together with the finished
 * row (ExecutionOutcome.files). The lease goes with it and is released when the worker closes it,
 * so the user's next execution never finds the directory ahead of the database.
 */
export function collectFiles(fileSync: FileSync, lease: SandboxLease): Promise<FileWriteBack> {
  return fileSync.collect(lease, { onClose: () => lease.release() });
}
