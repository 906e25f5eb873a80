import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Services } from '../services.js';
import { ApiError, handleError } from './errors.js';
import { ApiLifecycle } from './lifecycle.js';
import { authPlugin } from './plugins/auth.js';
import { registerExternalPlugins } from './plugins/external.js';
import { observabilityPlugin } from './plugins/observability.js';
import { type SchedulerPluginOptions, schedulerPlugin } from './plugins/scheduler.js';
import { servicesPlugin } from './plugins/services.js';
import { registerSpa, sendSpaPage, wantsSpaPage } from './plugins/spa.js';
import { adminRoutes } from './routes/admin/index.js';
import { authRoutes } from './routes/auth/index.js';
import { automationRoutes } from './routes/automations/index.js';
import { egressRoutes } from './routes/egress/index.js';
import { executionRoutes } from './routes/executions/index.js';
import { submitPlugin } from './routes/executions/submit.js';
import { fileRoutes } from './routes/files/index.js';
import { healthRoutes } from './routes/health/index.js';
import { hookRoutes } from './routes/hooks/index.js';
import { meRoutes } from './routes/me/index.js';
import { metricsRoutes } from './routes/metrics/index.js';
import { sessionRoutes } from './routes/sessions/index.js';

export interface ApiOptions {
  /** Built web app served at `/` with a history fallback (standalone and api). */
  staticDir?: string;
  /** Reported by `/health`, `/me` and the OpenAPI description. */
  version?: string;
  /** Extra figures for `/health` (the worker's isolation level and pool in standalone mode). */
  extraHealth?: () => Record<string, unknown>;
  /** Silence after which an event stream sends a keep-alive comment; 15 s by default. */
  sseKeepAliveMs?: number;
  /** Successful token lookups are remembered this long (default `AUTH_CACHE_MS`; revocation on this replica is immediate). */
  authCacheMs?: number;
  /** The schedule runner of this replica (on by default). */
  scheduler?: SchedulerPluginOptions;
  /** Shared with `startApiServer`, which drains through it. */
  lifecycle?: ApiLifecycle;
}

/** Largest JSON body of an ordinary route (script runs and file uploads set their own). */
const jsonBodyLimit = 256 * 1024;

function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers['x-request-id'];
  // An id from the ingress is kept so log lines can be followed across hops, if it looks sane.
  return typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
}

/**
 * The HTTP API as a Fastify instance, not yet listening. Layers, in order: third-party plugins,
 * the app's own plugins (services, auth, metrics) decorated on the instance, then the routes.
 */
export async function buildApiApp(services: Services, options: ApiOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const version = options.version ?? 'dev';
  const lifecycle = options.lifecycle ?? new ApiLifecycle();

  const app = Fastify({
    loggerInstance: services.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // One line per request comes from the observability plugin instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.http.trustProxy,
    bodyLimit: jsonBodyLimit,
    // Bounds how long a client may take to send its request (slow uploads included).
    requestTimeout: 120_000,
    genReqId: requestId,
    // While draining, requests on already open connections are still served (with
    // `Connection: close`), so a balancer that has not yet noticed loses nothing.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 1100 },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  // A callback hook, not an async one: it runs on every request, probes included.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  await registerExternalPlugins(app, services, { version });

  await app.register(servicesPlugin, { services, lifecycle });
  await app.register(authPlugin, { cacheMs: options.authCacheMs ?? config.http.authCacheMs });
  await app.register(observabilityPlugin);
  await app.register(submitPlugin);
  await app.register(schedulerPlugin, options.scheduler ?? {});

  await app.register(healthRoutes, { probe: services.probe, version, extraHealth: options.extraHealth });
  await app.register(metricsRoutes);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      // JSON is the only body type; text would only ever fail validation with a muddled message.
      api.removeContentTypeParser('text/plain');
      await api.register(authRoutes);
      await api.register(async (signedIn) => {
        signedIn.addHook('onRequest', signedIn.authenticate);
        await signedIn.register(meRoutes, { version });
        await signedIn.register(sessionRoutes);
        await signedIn.register(executionRoutes, { keepAliveMs: options.sseKeepAliveMs });
        await signedIn.register(automationRoutes);
        await signedIn.register(fileRoutes);
        await signedIn.register(adminRoutes);
        await signedIn.register(egressRoutes);
      });
    },
    { prefix: '/api/v1' },
  );
  // Webhook deliveries: signed, not signed in; their own body parsing (the raw bytes are signed).
  await app.register(hookRoutes);

  const staticDir = options.staticDir;
  if (staticDir) await registerSpa(app, staticDir);

  app.setNotFoundHandler((request, reply) => {
    if (staticDir && wantsSpaPage(request)) return sendSpaPage(reply);
    const path = request.url.split('?')[0] ?? '';
    throw new ApiError(404, 'not_found', `There is no route ${request.method} ${path.slice(0, 200)}.`);
  });

  return app;
}
