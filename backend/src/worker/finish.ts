import {
  type ExecutionError,
  type ExecutionRepository,
  type FileConflict,
  FileCountExceededError,
  type FinishedStatus,
  QuotaExceededError,
  type Store,
  type TokenUsage,
} from '../store/types.js';
import type { FileChange, FileWriteBack } from './file-sync.js';

/** The terminal state an attempt writes to its execution's row. */
export interface Ending {
  status: FinishedStatus;
  result?: unknown;
  error: ExecutionError | null;
  usage: TokenUsage | null;
}

/** Thrown inside the transaction to roll back the files of an attempt that lost the race. */
class AlreadyFinishedError extends Error {}

/**
 * Writes an execution's finished row and, in the same transaction, the files it changed. A worker
 * killed before the commit leaves neither, so the re-run starts from the files the first attempt
 * started from (an append is not made twice); killed after it, the re-delivery finds the row
 * finished and runs nothing. A file someone else changed since the execution started keeps their
 * version, and the execution's is stored beside it as a conflict copy; `stored` lists the changes
 * as stored. Files over the user's quota are not stored and the execution fails with
 * `quota_exceeded` instead. `done` is false when another attempt finished it first; that
 * attempt's files are the ones kept. The write-back is closed either way.
 */
export async function finishWithFiles(
  store: Pick<Store, 'transaction'> & { executions: Pick<ExecutionRepository, 'finish'> },
  id: string,
  ending: Ending,
  files: FileWriteBack | undefined,
): Promise<{ done: boolean; ending: Ending; stored: readonly FileChange[] }> {
  if (!files || files.changes.length === 0) {
    const done = await store.executions.finish(id, ending);
    files?.close(done);
    return { done, ending, stored: [] };
  }
  try {
    const { conflicts } = await store.transaction(async (tx) => {
      const applied = await tx.files.apply(
        files.userId,
        // The id's last 8 hex digits are random; its first ones are a time (UUIDv7) that
        // executions started together share, and their copies would take one name.
        { ...files, conflictTag: id.slice(-8) },
        files.quotaBytes,
        files.quotaFiles,
      );
      if (!(await tx.executions.finish(id, ending))) throw new AlreadyFinishedError();
      return applied;
    });
    files.close(true);
    return { done: true, ending, stored: asStored(files.changes, conflicts) };
  } catch (error) {
    files.close(false);
    if (error instanceof AlreadyFinishedError) return { done: false, ending, stored: [] };
    if (!(error instanceof QuotaExceededError)) throw error;
    const needed = error.usedBytes + (error.requestedBytes ?? 0);
    const overQuota: Ending = {
      ...ending,
      status: 'failed',
      error: {
        code: 'quota_exceeded',
        message:
          error instanceof FileCountExceededError
            ? `the execution would leave ${error.usedFiles} files but the user may keep ${error.quotaFiles}; no file was saved`
            : `the execution's files need ${needed} bytes but the user's quota is ${files.quotaBytes} bytes; no file was saved`,
      },
    };
    return { done: await store.executions.finish(id, overQuota), ending: overQuota, stored: [] };
  }
}

/**
 * The changes as stored: a write that met a concurrent change was stored as a conflict copy
 * (announced as that file, created), a delete that met one was dropped.
 */
function asStored(changes: readonly FileChange[], conflicts: readonly FileConflict[]): FileChange[] {
  const byPath = new Map(conflicts.map((conflict) => [conflict.path, conflict.keptAs]));
  return changes.flatMap((change): FileChange[] => {
    if (!byPath.has(change.path)) return [change];
    const keptAs = byPath.get(change.path);
    return keptAs ? [{ ...change, path: keptAs, change: 'created' }] : [];
  });
}
