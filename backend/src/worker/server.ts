import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
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

/** Longest a health check may take before it counts as failed. */
const checkTimeoutMs = 2_000;
/** Probes from several kubelets and scrapers share one dependency check per second. */
const checkCacheMs = 1_000;

/** Resolves to null when `check` succeeds in time, else to the reason it did not. */
function timedCheck(check: () => Promise<void>): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    check().then(
      () => null,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${checkTimeoutMs} ms`), checkTimeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

function cached(check: () => Promise<void>): () => Promise<string | null> {
  let last: { at: number; result: Promise<string | null> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= checkCacheMs) last = { at: now, result: timedCheck(check) };
    return last.result;
  };
}

/**
 * The worker's own small HTTP server (port 8001): liveness, readiness, a health summary with the
 * sandbox isolation level and pool figures, and Prometheus metrics.
 */
export async function startWorkerServer(options: WorkerServerOptions): Promise<WorkerServer> {
  const { services, runtime, orchestrator, version } = options;
  const startedAt = Date.now();
  const dependencies = cached(() => services.checkDependencies());
  const database = cached(() => services.store.db.ping());
  // Every Redis-backed seam, as the API checks them: one of them alone may have lost its connection.
  const redis = services.config.redis
    ? cached(async () => {
        await Promise.all([services.redis?.ping(), services.queue.ping(), services.events.ping()]);
      })
    : undefined;

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
    const problem = await dependencies();
    if (problem) return reply.code(503).send({ status: 'not_ready', reason: problem });
    return { status: 'ready' };
  });

  app.get('/health', async () => {
    const [db, queue] = await Promise.all([database(), redis ? redis() : Promise.resolve(null)]);
    const figures = runtime.figures();
    const healthy = db === null && queue === null;
    return {
      status: figures.draining ? 'draining' : healthy ? 'ok' : 'degraded',
      role: 'worker',
      version,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      checks: {
        database: db === null ? 'ok' : `database: ${db}`,
        redis: redis ? (queue === null ? 'ok' : `redis: ${queue}`) : 'not_configured',
      },
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
    let timer: NodeJS.Timeout | undefined;
    const counts = await Promise.race([
      services.queue.counts().catch(() => undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), checkTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
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
