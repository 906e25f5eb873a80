import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { valueWithin } from '../lib/timeout.js';
import type { Services } from '../services.js';
import { type ApiOptions, buildApiApp } from './app.js';
import { ApiLifecycle } from './lifecycle.js';

export type { ApiOptions } from './app.js';
export { buildApiApp } from './app.js';
export { adminUserName, ensureAdmin } from './bootstrap.js';
export { ApiError, type ErrorBody } from './errors.js';

export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  app: FastifyInstance;
  /**
   * Graceful stop (SIGTERM): readiness turns 503 at once, event streams end with a `retry:`
   * hint, in-flight requests get `config.http.shutdownGraceMs` to finish, then the server closes
   * (remaining connections are cut). Does not close the services.
   */
  drain(): Promise<void>;
}

/**
 * Cuts, while the server drains, connections on which the client has sent nothing: a balancer's or
 * a browser's pre-opened one carries no request, and Node's list of idle connections (which the
 * close ends) leaves it out, so the close would wait the whole grace period for it. A connection
 * is cut only once it was silent at two sweeps `everyMs` apart — a request already in the
 * kernel's buffer at the first is read in between — and the sweeps go on until the close ends,
 * for connections accepted after the drain began.
 */
function silentConnectionCutter(server: Server, everyMs = 50): { start(): void; stop(): void } {
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  let sweeps: NodeJS.Timeout | undefined;
  return {
    start() {
      let silentBefore = new Set<Socket>();
      const sweep = () => {
        const silentNow = new Set([...open].filter((socket) => socket.bytesRead === 0));
        for (const socket of silentNow) if (silentBefore.has(socket)) socket.destroy();
        silentBefore = silentNow;
      };
      // Swept after the loop turn's poll phase (setImmediate), so that one always runs between
      // two sweeps, however long the loop was blocked.
      sweeps ??= setInterval(() => setImmediate(sweep), everyMs).unref();
    },
    stop() {
      clearInterval(sweeps);
    },
  };
}

/** Reconnect delay suggested to SSE clients when this replica drains. */
const drainRetryMs = 1000;

/** Builds the API and listens on `config.http.host:port` (port 0 picks a free one). */
export async function startApiServer(
  services: Services,
  options: Omit<ApiOptions, 'lifecycle'> & { port?: number; host?: string } = {},
): Promise<ApiServer> {
  const lifecycle = new ApiLifecycle();
  const app = await buildApiApp(services, { ...options, lifecycle });
  const { http } = services.config;
  const host = options.host ?? http.host;
  await app.listen({ port: options.port ?? http.port, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? http.port);
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  const silent = silentConnectionCutter(app.server);
  let draining: Promise<void> | undefined;
  const drain = () => {
    draining ??= (async () => {
      lifecycle.startDraining(drainRetryMs);
      const closed = app.close().then(() => 'closed' as const);
      silent.start();
      try {
        const outcome = await valueWithin(closed, http.shutdownGraceMs);
        if (outcome === undefined) {
          app.log.warn(
            { graceMs: http.shutdownGraceMs },
            'grace period over; closing the remaining connections',
          );
          app.server.closeAllConnections();
          await closed;
        }
      } finally {
        silent.stop();
      }
    })();
    return draining;
  };

  return { url: `http://${shownHost}:${port}`, app, drain };
}
