import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Latency of every answered request by route template (never the raw URL, so ids do not explode
 * the label set) and one log line per API request.
 */
export const observabilityPlugin = fp(
  async (app: FastifyInstance) => {
    const histogram = app.services.metrics.httpRequestDuration;
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const seconds = reply.elapsedTime / 1000;
      histogram.observe({ method: request.method, route, status_code: String(reply.statusCode) }, seconds);
      const level = reply.statusCode >= 500 ? 'error' : request.url.startsWith('/api/') ? 'info' : 'debug';
      request.log[level](
        {
          method: request.method,
          route,
          statusCode: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
          userId: request.auth?.user.id,
        },
        'request completed',
      );
    });
  },
  { name: 'ipa-observability', dependencies: ['ipa-services', 'ipa-auth'] },
);
