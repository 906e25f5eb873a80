import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { firstProblem, healthy } from '../lib/dependency-probe.js';
import { valueWithin } from '../lib/timeout.js';
import type { SandboxOrchestrator } from '../sandbox/types.js';
import type { Services } from '../services.js';
import { refreshSandboxGauges } from './heartbeat.js';
import type { WorkerRuntime } from './runtime.js';

export interface WorkerServerOptions {
  services: Services;
  runtime: WorkerRuntime;
  /** The worker's sandboxes; a managed one also says why it reached its isolation level. */
  orchestrator?: SandboxOrchestrator & { readonly isolationReason?: string };
  version: string;
  host?: string;
  port?: number;
}

export interface WorkerServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Longest a scrape waits for the queue depth before it reports the last figures. */
const countsTimeoutMs = 2_000;

/**
 * The worker's own small HTTP server (port 8001): liveness, readiness, a health summary with the
 * sandbox isolation level and pool figures, and Prometheus metrics.
 */
export async function startWorkerServer(options: WorkerServerOptions): Promise<WorkerServer> {
  const { services, runtime, orchestrator, version } = options;
  const startedAt = Date.now();
  // The API's checks: readiness and /health ask the same probe.
  const { probe } = services;

  const app = Fastify({
    loggerInstance: services.logger.child({ component: 'worker-http' }) as FastifyBaseLogger,
    // Probes and scrapes every few seconds would drown the execution logs.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (_request, reply) => {
    if (runtime.figures().draining) {
      return reply.code(503).send({ status: 'not_ready', reason: 'draining' });
    }
    const problem = firstProblem(await probe.check());
    if (problem) return reply.code(503).send({ status: 'not_ready', reason: problem });
    return { status: 'ready' };
  });

  app.get('/health', async () => {
    const checks = await probe.check();
    const figures = runtime.figures();
    return {
      status: figures.draining ? 'draining' : healthy(checks) ? 'ok' : 'degraded',
      role: 'worker',
      version,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      checks,
      workerId: figures.workerId,
      isolation: figures.isolation,
      // what detection found: why this level and not a stronger one (operators read it first)
      isolationReason: orchestrator?.isolationReason ?? null,
      pool: figures.pool,
      concurrency: figures.concurrency,
      running: figures.running,
      draining: figures.draining,
      finished: figures.finished,
      handedBack: figures.handedBack,
    };
  });

  app.get('/metrics', async (_request, reply) => {
    refreshSandboxGauges(services.metrics, orchestrator);
    // Queue depth is the worker autoscaling signal; a scrape reports stale figures rather than hang.
    const counts = await valueWithin(services.queue.counts(), countsTimeoutMs);
    if (counts) {
      for (const state of ['waiting', 'active', 'delayed'] as const) {
        services.metrics.queueDepth.set({ state }, counts[state]);
      }
    }
    const { registry } = services.metrics;
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  const url = await app.listen({
    host: options.host ?? services.config.http.host,
    port: options.port ?? services.config.http.port,
  });
  return { url, app, close: () => app.close() };
}
