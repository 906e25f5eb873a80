import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Labelled histogram children kept per (method, route, status); past this many, looked up each time. */
const maxCachedSeries = 2000;

/**
 * Latency of every answered request by route template (never the raw URL, so ids do not explode
 * the label set) and one log line per API request. On every request's path, so it stays cheap:
 * the labelled series is looked up once and kept, and a log line below the log level is never built.
 */
export const observabilityPlugin = fp(
  async (app: FastifyInstance) => {
    const histogram = app.services.metrics.httpRequestDuration;
    const series = new Map<string, { observe(value: number): void }>();
    const seriesOf = (method: string, route: string, statusCode: number) => {
      const key = `${method} ${statusCode} ${route}`;
      let child = series.get(key);
      if (!child) {
        child = histogram.labels({ method, route, status_code: String(statusCode) });
        if (series.size < maxCachedSeries) series.set(key, child);
      }
      return child;
    };
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const { statusCode } = reply;
      seriesOf(request.method, route, statusCode).observe(reply.elapsedTime / 1000);
      const level = statusCode >= 500 ? 'error' : request.url.startsWith('/api/') ? 'info' : 'debug';
      const log = request.log as typeof request.log & { isLevelEnabled?: (level: string) => boolean };
      if (log.isLevelEnabled?.(level) ?? true) {
        request.log[level](
          {
            method: request.method,
            route,
            statusCode,
            ms: Math.round(reply.elapsedTime),
            userId: request.auth?.user.id,
          },
          'request completed',
        );
      }
      done();
    });
  },
  { name: 'ipa-observability', dependencies: ['ipa-services', 'ipa-auth'] },
);
