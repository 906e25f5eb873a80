import type { FastifyPluginAsync } from 'fastify';
import { valueWithin } from '../../../lib/timeout.js';

/** How long a scrape waits for the queue and the worker registry before it reports stale figures. */
const refreshTimeoutMs = 1500;

/** Prometheus text. Figures that mirror Redis state are refreshed on each scrape. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  const { metrics, queue, workers } = app.services;

  app.get(
    '/metrics',
    // Scrapes are never rationed (no rate-limit hook on the route).
    {
      config: { rateLimit: false },
      schema: { tags: ['health'], summary: 'Prometheus metrics', security: [] },
    },
    async (_request, reply) => {
      const [counts, live] = await Promise.all([
        valueWithin(queue.counts(), refreshTimeoutMs),
        valueWithin(workers.list(), refreshTimeoutMs),
      ]);
      if (counts) {
        for (const state of ['waiting', 'active', 'delayed'] as const) {
          metrics.queueDepth.set({ state }, counts[state]);
        }
      }
      if (live) metrics.workersConnected.set(live.length);
      metrics.sseClients.set(app.lifecycle.openStreams);
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
