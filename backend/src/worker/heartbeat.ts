import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { WorkerHeartbeat, WorkerRegistry } from '../queue/types.js';
import type { SandboxOrchestrator } from '../sandbox/types.js';

/** Sets the sandbox pool and isolation gauges from the orchestrator (called on scrape and heartbeat). */
export function refreshSandboxGauges(metrics: Metrics, orchestrator: SandboxOrchestrator | undefined): void {
  const level = orchestrator?.isolation;
  for (const candidate of ['bwrap', 'process'] as const) {
    metrics.sandboxIsolation.set({ level: candidate }, candidate === level ? 1 : 0);
  }
  if (!orchestrator) return;
  const pool = orchestrator.figures();
  for (const [figure, value] of Object.entries(pool)) {
    if (typeof value === 'number') metrics.sandboxPool.set({ figure }, value);
  }
}

export interface HeartbeatOptions {
  registry: WorkerRegistry;
  metrics: Metrics;
  orchestrator?: SandboxOrchestrator;
  logger: Logger;
  intervalMs: number;
  ttlMs: number;
  /** The heartbeat as of now. */
  beat: () => WorkerHeartbeat;
}

export interface Heartbeats {
  /** Publishes at once (e.g. the `draining` flag); concurrent publications are allowed. */
  publish(): Promise<void>;
  /** No more heartbeats; resolves when those in flight have landed (the caller then removes the worker). */
  stop(): Promise<void>;
}

/** Publishes the worker's heartbeat every `intervalMs` with a TTL, so the API lists live workers only. */
export function startHeartbeats(options: HeartbeatOptions): Heartbeats {
  const { registry, metrics, orchestrator, logger } = options;
  let failing = false;
  let over = false;
  const inFlight = new Set<Promise<void>>();

  const publishOnce = async (): Promise<void> => {
    refreshSandboxGauges(metrics, orchestrator);
    try {
      await registry.publish(options.beat(), options.ttlMs);
      if (failing) logger.info('heartbeat published again');
      failing = false;
    } catch (error) {
      if (!failing) logger.warn({ err: error }, 'heartbeat could not be published');
      failing = true;
    }
  };
  const publish = (): Promise<void> => {
    if (over) return Promise.resolve();
    const publishing = publishOnce().finally(() => inFlight.delete(publishing));
    inFlight.add(publishing);
    return publishing;
  };

  const timer = setInterval(() => void publish(), options.intervalMs);
  timer.unref();
  void publish();
  return {
    publish,
    async stop() {
      clearInterval(timer);
      // A heartbeat landing after the removal would list this worker again until its TTL.
      over = true;
      await Promise.all(inFlight);
    },
  };
}
