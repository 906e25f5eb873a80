export {
  type AbortCode,
  abortCodeOf,
  ExecutionAbortedError,
  type ExecutionContext,
  type ExecutionOutcome,
  type Executor,
} from './executor.js';
export { requeueUnfinished } from './recovery.js';
export {
  ExecutionHandedBackError,
  type FinishedStatus,
  refreshSandboxGauges,
  startWorkerRuntime,
  type WorkerFigures,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
  type WorkerTiming,
} from './runtime.js';
export { startWorkerServer, type WorkerServer, type WorkerServerOptions } from './server.js';
