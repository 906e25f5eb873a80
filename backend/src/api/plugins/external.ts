import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { closeRedisClient, createRedisClient } from '../../queue/index.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { presentedToken, sessionCookieName, tokenKey } from './auth.js';
import { chunkedRedisRateLimitStore, defaultRateLimitChunk } from './rate-limit-store.js';

/** Rate limits count per token; requests without one count per client address. */
function rateLimitKey(request: FastifyRequest): string {
  try {
    const presented = presentedToken(request);
    if (presented) return `t:${tokenKey(presented.token)}`;
  } catch {
    // A malformed Authorization header is refused later; it is counted by address meanwhile.
  }
  return `a:${request.ip}`;
}

/**
 * The security headers `@fastify/helmet` sets with these options, worked out once: they depend on
 * the options only, so one throwaway request yields exactly the headers the plugin would set.
 */
async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const scratch = Fastify({ logger: false });
  try {
    await scratch.register(fastifyHelmet, options);
    scratch.get('/', async () => '');
    const { headers } = await scratch.inject('/');
    const generic = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
    return Object.fromEntries(
      Object.entries(headers)
        .filter(([name, value]) => !generic.has(name) && typeof value === 'string')
        .map(([name, value]) => [name, String(value)]),
    );
  } finally {
    await scratch.close();
  }
}

/**
 * Third-party plugins, registered first so the app's own plugins and routes can rely on them.
 * Multipart parsing is registered by the files routes only, so no other route accepts it.
 */
export async function registerExternalPlugins(
  app: FastifyInstance,
  services: Services,
  options: { version: string },
): Promise<void> {
  const { config } = services;

  const securityHeaders = await helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // Component libraries and the API explorer set style attributes at run time.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Plain HTTP in standalone mode must keep working; behind TLS the ingress may add HSTS.
    strictTransportSecurity: config.http.secureCookies ? { maxAge: 31_536_000 } : false,
  });
  // Set on every response from one precomputed list: @fastify/helmet builds them anew per request.
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(securityHeaders);
    done();
  });

  if (config.http.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: config.http.corsOrigins,
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
      exposedHeaders: ['Retry-After', 'Content-Disposition', 'X-Request-Id'],
      maxAge: 600,
    });
  }

  await app.register(fastifyCookie);

  // Rate limits are counted in Redis when distributed, so every replica enforces one shared
  // budget. Their connection fails fast (no offline queue, short command timeout): with Redis
  // down or hung, requests pass uncounted rather than wait, and readiness reports the outage.
  const counter = config.redis
    ? createRedisClient(config.redis.url, {
        sentinel: config.redis.sentinel,
        logger: services.logger,
        connectionName: 'api-rate-limit',
        maxRetriesPerRequest: 0,
        redis: { enableOfflineQueue: false, commandTimeout: 500 },
      })
    : undefined;
  if (counter) app.addHook('onClose', () => closeRedisClient(counter));

  await app.register(fastifyRateLimit, {
    global: true,
    max: config.http.rateLimitPerMinute,
    timeWindow: 60_000,
    // Probes, metrics scrapes, the web app's files and the API explorer are not rationed.
    allowList: (request) => !request.url.startsWith('/api/'),
    keyGenerator: rateLimitKey,
    // Counted in Redis in chunks, handed out locally (rate-limit-store.ts: bounds and error).
    ...(counter
      ? {
          store: chunkedRedisRateLimitStore({
            redis: counter,
            prefix: `${config.redis?.prefix ?? 'ipa'}:rate:`,
            chunk: (max) => config.http.rateLimitChunk ?? defaultRateLimitChunk(max),
          }),
        }
      : {}),
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new ApiError(429, 'rate_limited', `Too many requests; retry in ${context.after}.`, {
        limitPerMinute: context.max,
      }),
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'IPA Platform API',
        description:
          'Runs AI-agent turns and automation scripts in per-user sandboxes. Every error answers ' +
          '`{"error": {"code", "message", "details"?}}`.',
        version: options.version,
      },
      components: {
        securitySchemes: {
          bearerToken: { type: 'http', scheme: 'bearer', description: 'An API token (`ipa_…`).' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: sessionCookieName },
        },
      },
      security: [{ bearerToken: [] }, { sessionCookie: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
}
