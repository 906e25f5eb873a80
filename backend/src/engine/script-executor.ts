import type { Egress } from '../egress/service.js';
import type { Logger } from '../observability/logger.js';
import type { SandboxEvent, SandboxOrchestrator } from '../sandbox/types.js';
import type { ScriptInput } from '../store/types.js';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../worker/executor.js';
import type { FileSync } from '../worker/file-sync.js';
import { abortOutcome, acquireLease, collectFiles, failed, sandboxFailure } from './common.js';

export interface ScriptExecutorOptions {
  orchestrator: SandboxOrchestrator;
  fileSync: FileSync;
  logger?: Logger;
  /** Egress of the runs (policy, secrets); without it a run has no network. */
  egress?: Egress;
}

/**
 * Runs a script execution: the user's files are brought up to date, the code runs in the user's
 * sandbox with stdout/stderr streamed as `output` events, and the files it wrote are handed to the
 * worker to store with the outcome.
 */
export function createScriptExecutor(options: ScriptExecutorOptions): Executor {
  const { orchestrator, fileSync, logger } = options;
  return {
    kind: 'script',
    async run(context: ExecutionContext): Promise<ExecutionOutcome> {
      const { execution, signal, config } = context;
      const input = execution.input as Partial<ScriptInput>;
      if (typeof input?.code !== 'string' || typeof input.language !== 'string') {
        return failed('invalid_input', 'a script execution needs a language and code');
      }
      if (!orchestrator.languages.includes(input.language)) {
        return failed(
          'unsupported_language',
          `'${input.language}' scripts cannot run on this platform (sandbox isolation '${orchestrator.isolation}' offers ${orchestrator.languages.join(', ')})`,
        );
      }
      const lease = await acquireLease(orchestrator, execution.userId, signal);
      if ('status' in lease) return lease;
      // Once the changed files are collected the lease is theirs, released when they are stored.
      let leaseHandedOver = false;

      // Output events keep their order: each waits for the one before it.
      let emitted = Promise.resolve();
      const onEvent = (event: SandboxEvent) => {
        if (event.kind !== 'output') return;
        emitted = emitted
          .then(() => context.emit('output', { stream: event.stream, data: event.data }))
          .catch((error: unknown) =>
            logger?.warn({ err: error, executionId: execution.id }, 'output event lost'),
          );
      };
      try {
        await fileSync.prepare(lease, { signal });
        const run = await lease.run(
          {
            language: input.language,
            code: input.code,
            input: input.input,
            timeoutMs: config.executions.timeoutMs,
            egress: options.egress?.contextFor(execution),
          },
          { signal, onEvent },
        );
        await emitted;
        // A run that ended because the signal fired (its process killed) is a cancel or a
        // timeout, whatever exit status the killed process left.
        if (signal.aborted) return abortOutcome(signal);
        if (run.timedOut)
          return {
            status: 'timed_out',
            error: { code: 'timeout', message: 'the script ran past its time limit' },
          };
        const result = {
          exitCode: run.exitCode,
          result: run.result ?? null,
          durationMs: run.durationMs,
          outputTruncated: run.outputTruncated,
          // Where the script failed in the user's own code (message, line, column), for the editor.
          ...(run.error ? { error: run.error } : {}),
        };
        const files = await collectFiles(fileSync, lease);
        leaseHandedOver = true;
        if (run.exitCode !== 0) {
          const at = run.error?.line
            ? ` (line ${run.error.line}${run.error.column ? `, column ${run.error.column}` : ''})`
            : '';
          const message = run.error
            ? `${run.error.message}${at}`
            : run.exitCode === null
              ? 'the script was killed by a signal'
              : `the script exited with code ${run.exitCode}`;
          const outcome = failed('script_error', message, result);
          // The place travels with the error (row and terminal event), so an editor can mark it.
          if (outcome.error && run.error?.line) {
            outcome.error.line = run.error.line;
            if (run.error.column) outcome.error.column = run.error.column;
          }
          return { ...outcome, files };
        }
        return { status: 'succeeded', result, files };
      } catch (error) {
        await emitted;
        if (signal.aborted) return abortOutcome(signal);
        return (
          sandboxFailure(error) ??
          failed('internal', `the script could not be run: ${(error as Error).message}`)
        );
      } finally {
        if (!leaseHandedOver) lease.release();
      }
    },
  };
}
