/** The sandbox module's public surface (docs/architecture.md, Sandbox). */
export {
  dataHeadroomMb,
  detectIsolation,
  type IsolationReport,
  languagesAt,
  permissionFlag,
} from './isolation.js';
export {
  chooseIsolation,
  createSandboxOrchestrator,
  type ManagedSandboxOrchestrator,
  type SandboxOrchestratorOptions,
  sandboxEnvironment,
} from './orchestrator.js';
export type { RpcMethods, SyncFileState, SyncLimitExceeded, SyncLimits } from './protocol.js';
export * from './types.js';
export { type DirectoryUsage, directoryUsage } from './usage.js';
export {
  assertUserId,
  discardUserDirectory,
  ensureUserDirectory,
  userDirectory,
  userFolders,
} from './workspace.js';
