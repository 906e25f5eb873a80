import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { viaRedis } from '../../redis.js';
import {
  auditEntrySchema,
  errors,
  executionStatuses,
  id,
  idParams,
  pageOf,
  pageQuery,
  queueCountsSchema,
  tokenInfoSchema,
  userSchema,
  workerHeartbeatSchema,
} from '../../schemas/common.js';

const tokenName = z.string().trim().min(1).max(100);
/** Minutes of history in the stats' per-minute series. */
const statsMinutes = 60;

/** A point in time with its offset (`2026-05-01T10:00:00Z`), as the filters of the audit log take it. */
const instant = z.iso.datetime({ offset: true }).transform((text) => new Date(text).toISOString());

const auditQuery = z
  .strictObject({
    actorId: id.optional().describe('Only what this user did.'),
    action: z
      .string()
      .regex(/^[a-z_]+(\.[a-z_]+)*\.?$/, 'must be an action name like user.create, or a prefix like user.')
      .max(200)
      .optional()
      .describe('An action (`user.create`), or every action under a prefix ending in a dot (`user.`).'),
    from: instant.optional().describe('From this time (inclusive).'),
    to: instant.optional().describe('Before this time (exclusive).'),
    ...pageQuery,
  })
  .refine((query) => !query.from || !query.to || query.from < query.to, {
    message: '`from` must be before `to`',
    path: ['from'],
  });

/** Administration: users, their tokens, platform figures and the audit log. Every change is audited. */
export const adminRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store, queue, workers } = app.services;
  app.addHook('onRequest', app.requireAdmin);

  const existingUser = async (userId: string) => {
    const user = await store.users.get(userId);
    if (!user) throw notFound('The user');
    return user;
  };

  app.get(
    '/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'All users, oldest first',
        querystring: z.strictObject(pageQuery),
        response: { 200: pageOf(userSchema), ...errors(400, 401, 403) },
      },
    },
    async (request) => store.users.list(request.query),
  );

  app.post(
    '/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a user and a first token (shown once)',
        body: z.strictObject({ name: z.string().trim().min(1).max(200), isAdmin: z.boolean().optional() }),
        response: { 201: z.object({ user: userSchema, token: z.string() }), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const actor = currentUser(request).user;
      const user = await store.users.create({
        name: request.body.name,
        isAdmin: request.body.isAdmin ?? false,
      });
      const { token, info } = await store.tokens.issue(user.id, 'default');
      await store.audit.record({
        actorId: actor.id,
        action: 'user.create',
        target: user.id,
        details: { name: user.name, isAdmin: user.isAdmin, tokenId: info.id },
      });
      return reply.code(201).send({ user, token });
    },
  );

  app.get(
    '/admin/users/:id/tokens',
    {
      schema: {
        tags: ['admin'],
        summary: "A user's API tokens (never the tokens themselves); browser sign-ins are listed apart",
        params: idParams,
        response: { 200: z.object({ items: z.array(tokenInfoSchema) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const user = await existingUser(request.params.id);
      return { items: await store.tokens.list(user.id, { kind: 'api' }) };
    },
  );

  app.get(
    '/admin/users/:id/signins',
    {
      schema: {
        tags: ['admin'],
        summary: "A user's browser sign-ins still in force, with device and last use",
        params: idParams,
        response: { 200: z.object({ items: z.array(tokenInfoSchema) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const user = await existingUser(request.params.id);
      const now = Date.now();
      const signins = await store.tokens.list(user.id, { kind: 'signin' });
      return {
        items: signins
          .filter((t) => t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > now))
          .reverse(),
      };
    },
  );

  app.post(
    '/admin/users/:id/tokens',
    {
      schema: {
        tags: ['admin'],
        summary: 'Issue a token for a user (shown once)',
        params: idParams,
        body: z.strictObject({ name: tokenName }),
        response: {
          201: z.object({ token: z.string(), info: tokenInfoSchema }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const actor = currentUser(request).user;
      const user = await existingUser(request.params.id);
      const issued = await store.tokens.issue(user.id, request.body.name);
      await store.audit.record({
        actorId: actor.id,
        action: 'token.issue',
        target: issued.info.id,
        details: { userId: user.id, name: issued.info.name },
      });
      return reply.code(201).send(issued);
    },
  );

  app.delete(
    '/admin/users/:id/tokens/:tokenId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Revoke a token (takes effect at once)',
        params: z.strictObject({ id, tokenId: id }),
        response: { 204: z.null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const actor = currentUser(request).user;
      const { id: userId, tokenId } = request.params;
      const revoked = await store.tokens.revoke(userId, tokenId);
      if (!revoked) throw notFound('The token');
      app.forgetToken(tokenId);
      await store.audit.record({
        actorId: actor.id,
        action: 'token.revoke',
        target: tokenId,
        details: { userId },
      });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/admin/stats',
    {
      schema: {
        tags: ['admin'],
        summary:
          'Queue, executions by status and per minute (counts, p95 latency and queue wait), and connected workers',
        querystring: z.strictObject({
          minutes: z.coerce
            .number()
            .int()
            .min(1)
            .max(1440)
            .optional()
            .describe('Window of the per-minute series'),
        }),
        response: {
          200: z.object({
            queue: queueCountsSchema,
            executions: z.object({
              byStatus: z.record(z.enum(executionStatuses), z.number()),
              perMinute: z.array(
                z.object({
                  minute: z.string(),
                  succeeded: z.number(),
                  failed: z.number(),
                  p95DurationMs: z.number().nullable(),
                  p95QueueWaitMs: z.number().nullable(),
                }),
              ),
            }),
            workers: z.array(workerHeartbeatSchema),
          }),
          ...errors(401, 403, 503),
        },
      },
    },
    async (request) => {
      const [counts, executions, live] = await Promise.all([
        viaRedis(app.services, 'execution queue', () => queue.counts()),
        store.executions.stats(request.query.minutes ?? statsMinutes),
        viaRedis(app.services, 'worker registry', () => workers.list()),
      ]);
      return { queue: counts, executions, workers: live };
    },
  );

  app.get(
    '/admin/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit log, newest first; filtered by actor, action and time range',
        querystring: auditQuery,
        response: { 200: pageOf(auditEntrySchema), ...errors(400, 401, 403) },
      },
    },
    async (request) => store.audit.list(request.query),
  );
};
