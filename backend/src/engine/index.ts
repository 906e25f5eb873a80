import type { Egress } from '../egress/service.js';
import type { SandboxOrchestrator } from '../sandbox/types.js';
import type { Services } from '../services.js';
import type { Executor } from '../worker/executor.js';
import { createFileSync, type FileSync } from '../worker/file-sync.js';
import { type AgentExecutorOptions, createAgentExecutor } from './agent/executor.js';
import { createScriptExecutor } from './script-executor.js';

export {
  createFileSync,
  type FileChange,
  FileLimitError,
  type FileSync,
  type FileSyncOptions,
  type FileSyncReport,
  type FileWriteBack,
} from '../worker/file-sync.js';
export { type AgentExecutorOptions, createAgentExecutor } from './agent/executor.js';
export { providerFailure } from './agent/provider-errors.js';
export {
  chooseProvider,
  defaultModelNames,
  type ProviderName,
  providerNotConfiguredMessage,
} from './agent/providers.js';
export { type RetryOptions, retryingFetch } from './agent/retry.js';
export { createScriptExecutor, type ScriptExecutorOptions } from './script-executor.js';

export interface ExecutorsOptions {
  services: Pick<Services, 'config' | 'store' | 'metrics' | 'logger'>;
  orchestrator: SandboxOrchestrator;
  /** The worker's egress proxy and secrets; without it executions have no network. */
  egress?: Egress;
  /** Defaults to one built from the store, the orchestrator's directories and the user quota. */
  fileSync?: FileSync;
  /** Tuning of the agent executor (retry delays, tool result size, fetch). */
  agent?: Omit<AgentExecutorOptions, 'orchestrator' | 'fileSync' | 'metrics' | 'logger'>;
}

/** The worker's executors: scripts and agent turns, sharing one file sync. */
export function createExecutors(options: ExecutorsOptions): Executor[] {
  const { services, orchestrator } = options;
  const fileSync =
    options.fileSync ??
    createFileSync({
      files: services.store.files,
      quotaBytes: services.config.files.userQuotaBytes,
      quotaFiles: services.config.files.userQuotaFiles,
      syncState: (userId) => services.store.users.syncState(userId),
      logger: services.logger,
    });
  return [
    createScriptExecutor({ orchestrator, fileSync, logger: services.logger, egress: options.egress }),
    createAgentExecutor({
      ...options.agent,
      egress: options.egress,
      orchestrator,
      fileSync,
      metrics: services.metrics,
      logger: services.logger,
    }),
  ];
}
