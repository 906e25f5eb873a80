export { ExecutionHandedBackError } from './attempt-errors.js';
export {
  type AbortCode,
  abortCodeOf,
  ExecutionAbortedError,
  type ExecutionContext,
  type ExecutionOutcome,
  type Executor,
} from './executor.js';
export { refreshSandboxGauges } from './heartbeat.js';
export { every, type Periodic, type PeriodicOptions } from './periodic.js';
export { createQueueReconciler, type QueueReconciler, type ReconcilePass } from './reconciler.js';
export { requeueUnfinished } from './recovery.js';
export {
  startWorkerRuntime,
  type WorkerFigures,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
  type WorkerTiming,
} from './runtime.js';
export { startWorkerServer, type WorkerServer, type WorkerServerOptions } from './server.js';
