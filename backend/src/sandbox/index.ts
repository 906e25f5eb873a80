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
export type { RpcMethods } from './protocol.js';
export * from './types.js';
export {
  assertUserId,
  diffSnapshots,
  ensureUserDirectory,
  type FileFingerprint,
  type FileSnapshot,
  type SnapshotDiff,
  snapshotUserFiles,
  userDirectory,
  userFolders,
  userUsageBytes,
} from './workspace.js';
