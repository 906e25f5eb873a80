import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type DependencyProbe, firstProblem, healthy } from '../../../lib/dependency-probe.js';

export interface HealthRouteOptions {
  probe: DependencyProbe;
  version: string;
  /** Figures the process adds to `/health` (a worker's isolation level and pool). */
  extraHealth?: () => Record<string, unknown>;
}

/**
 * Probes are never rationed: the rate-limit hook is left off their routes altogether (it would
 * only let them through after building a key, on every probe).
 */
const unrationed = { rateLimit: false } as const;

const checkSchema = z.string().describe("'ok', 'not_configured' or what went wrong");

/** Probes for the orchestrator: live = the process answers; ready = it can serve (DB, Redis, not draining). */
export const healthRoutes: FastifyPluginAsyncZod<HealthRouteOptions> = async (app, options) => {
  const { probe, version, extraHealth } = options;

  app.get(
    '/health/live',
    {
      config: unrationed,
      schema: {
        tags: ['health'],
        summary: 'The process is up',
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      config: unrationed,
      schema: {
        tags: ['health'],
        summary: 'The process can serve: database and Redis answer, and it is not draining',
        security: [],
        response: {
          200: z.object({ status: z.literal('ready') }),
          503: z.object({ status: z.literal('not_ready'), reason: z.string() }),
        },
      },
    },
    async (_request, reply) => {
      if (app.lifecycle.draining) {
        return reply.code(503).send({ status: 'not_ready' as const, reason: 'draining' });
      }
      const checks = await probe.check();
      const problem = firstProblem(checks);
      // Draining may have begun while the checks ran.
      if (app.lifecycle.draining) {
        return reply.code(503).send({ status: 'not_ready' as const, reason: 'draining' });
      }
      if (problem) return reply.code(503).send({ status: 'not_ready' as const, reason: problem });
      return { status: 'ready' as const };
    },
  );

  app.get(
    '/health',
    {
      config: unrationed,
      schema: {
        tags: ['health'],
        summary: 'Summary for people and dashboards (always 200; readiness is the gate)',
        security: [],
        response: {
          200: z
            .object({
              status: z.enum(['ok', 'degraded', 'draining']),
              role: z.string(),
              version: z.string(),
              uptimeSeconds: z.number(),
              checks: z.object({ database: checkSchema, redis: checkSchema }),
            })
            .catchall(z.unknown()),
        },
      },
    },
    async () => {
      const checks = await probe.check();
      return {
        // The process's own figures first, so they can never replace the core fields.
        ...extraHealth?.(),
        status: app.lifecycle.draining
          ? ('draining' as const)
          : healthy(checks)
            ? ('ok' as const)
            : ('degraded' as const),
        role: app.services.config.role,
        version,
        uptimeSeconds: Math.round((Date.now() - app.lifecycle.startedAt) / 1000),
        checks,
      };
    },
  );
};
