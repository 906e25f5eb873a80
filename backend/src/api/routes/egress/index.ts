import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatRule, PolicyInputError, parseAllowList, parseAllowRule } from '../../../egress/policy.js';
import { secretNamePattern } from '../../../egress/secrets.js';
import { secretsFrom } from '../../../egress/service.js';
import { ApiError, notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { errors, id } from '../../schemas/common.js';

const deliverySchema = z.union([
  z.strictObject({ header: z.string().min(1).max(200), template: z.string().min(1).max(1000) }),
  z.strictObject({ query: z.string().min(1).max(200) }),
]);
const secretSchema = z.object({
  name: z.string(),
  hosts: z.array(z.string()),
  delivery: deliverySchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
const nameParams = z.strictObject({ name: z.string().regex(secretNamePattern) });
const rulesBody = z.strictObject({ rules: z.array(z.string().max(300)).max(200).nullable() });
const rulesAnswer = z.object({ rules: z.array(z.string()).nullable(), installation: z.array(z.string()) });
const requestSchema = z.object({
  id: z.string(),
  host: z.string(),
  port: z.number(),
  method: z.string(),
  status: z.number().nullable(),
  bytesSent: z.number(),
  bytesReceived: z.number(),
  durationMs: z.number(),
  outcome: z.enum(['allowed', 'refused', 'failed']),
  reason: z.string().nullable(),
  at: z.string(),
});

function invalid(error: unknown): never {
  if (error instanceof PolicyInputError) throw new ApiError(400, 'invalid_input', error.message);
  throw error;
}

/** Normalised rules (each entry checked), or null to stop narrowing. */
function rulesOf(rules: string[] | null): string[] | null {
  try {
    return rules === null ? null : rules.map((rule) => formatRule(parseAllowRule(rule)));
  } catch (error) {
    return invalid(error);
  }
}

/**
 * Egress: a user's secrets (write-only values), the egress log of their executions, the admin's
 * per-user allowlist and an owner's per-automation allowlist.
 */
export const egressRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store, config } = app.services;
  const secrets = secretsFrom(config, store);
  const installation = parseAllowList(config.egress.allow).map(formatRule);

  app.get(
    '/secrets',
    {
      schema: {
        tags: ['egress'],
        summary: 'Your secrets: names, bound hosts and how each is sent (never a value)',
        response: { 200: z.object({ enabled: z.boolean(), secrets: z.array(secretSchema) }), ...errors(401) },
      },
    },
    async (request) => ({
      enabled: secrets.enabled,
      secrets: await secrets.list(currentUser(request).user.id),
    }),
  );

  app.put(
    '/secrets/:name',
    {
      schema: {
        tags: ['egress'],
        summary: 'Create or replace a secret; the value can never be read back',
        params: nameParams,
        body: z.strictObject({
          value: z
            .string()
            .min(1)
            .max(16 * 1024),
          hosts: z.array(z.string().max(300)).min(1).max(50),
          delivery: deliverySchema,
        }),
        response: { 200: secretSchema, 201: secretSchema, ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const { value, hosts, delivery } = request.body;
      const put = await secrets
        .put(user.id, {
          name: request.params.name,
          value,
          hosts,
          delivery:
            'header' in delivery ? { header: delivery.header, template: delivery.template } : delivery,
        })
        .catch(invalid);
      await store.audit.record({
        actorId: user.id,
        action: put.created ? 'secret.create' : 'secret.replace',
        target: `secret:${put.secret.name}`,
        details: { hosts: put.secret.hosts },
      });
      return reply.code(put.created ? 201 : 200).send(put.secret);
    },
  );

  app.delete(
    '/secrets/:name',
    {
      schema: {
        tags: ['egress'],
        summary: 'Delete a secret',
        params: nameParams,
        response: { 204: z.null(), ...errors(401, 404) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      if (!(await secrets.delete(user.id, request.params.name))) throw notFound('The secret');
      await store.audit.record({
        actorId: user.id,
        action: 'secret.delete',
        target: `secret:${request.params.name}`,
      });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/executions/:id/egress',
    {
      schema: {
        tags: ['egress'],
        summary: 'Every request the execution made through the egress proxy, refusals included',
        params: z.strictObject({ id }),
        response: { 200: z.object({ items: z.array(requestSchema) }), ...errors(401, 404) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      const execution = await store.executions.get(request.params.id, user.id);
      if (!execution) throw notFound('The execution');
      const items = await store.egress.listRequests(execution.id);
      return { items: items.map(({ executionId: _e, userId: _u, ...rest }) => rest) };
    },
  );

  app.get(
    '/automations/:id/egress',
    {
      schema: {
        tags: ['egress'],
        summary: "An automation's egress allowlist (null: its owner's applies unnarrowed)",
        params: z.strictObject({ id }),
        response: { 200: rulesAnswer, ...errors(401, 404) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      if (!(await store.automations.get(user.id, request.params.id))) throw notFound('The automation');
      const found = await store.egress.automationAllowlist(request.params.id);
      return { rules: found?.ownerId === user.id ? found.rules : null, installation };
    },
  );

  app.put(
    '/automations/:id/egress',
    {
      schema: {
        tags: ['egress'],
        summary: "Set an automation's egress allowlist; it can only narrow its owner's",
        params: z.strictObject({ id }),
        body: rulesBody,
        response: { 200: rulesAnswer, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      // Only the automation's owner narrows it; anyone else's (or no) automation is a 404.
      if (!(await store.automations.get(user.id, request.params.id))) throw notFound('The automation');
      const rules = rulesOf(request.body.rules);
      await store.egress.setAutomationAllowlist(request.params.id, user.id, rules).catch((error: unknown) => {
        if (error instanceof RangeError) throw notFound('The automation');
        throw error;
      });
      await store.audit.record({
        actorId: user.id,
        action: 'egress.automation.set',
        target: `automation:${request.params.id}`,
        details: { rules },
      });
      return { rules, installation };
    },
  );

  await app.register(adminEgressRoutes, { installation });
};

/** The administrator's level: one user's egress allowlist. */
const adminEgressRoutes: FastifyPluginAsyncZod<{ installation: string[] }> = async (
  admin,
  { installation },
) => {
  const { store } = admin.services;
  admin.addHook('onRequest', admin.requireAdmin);
  admin.get(
    '/admin/users/:id/egress',
    {
      schema: {
        tags: ['admin', 'egress'],
        summary: "A user's egress allowlist (null: the installation's applies unnarrowed)",
        params: z.strictObject({ id }),
        response: { 200: rulesAnswer, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      if (!(await store.users.get(request.params.id))) throw notFound('The user');
      return { rules: await store.egress.userAllowlist(request.params.id), installation };
    },
  );
  admin.put(
    '/admin/users/:id/egress',
    {
      schema: {
        tags: ['admin', 'egress'],
        summary: "Set a user's egress allowlist; it can only narrow the installation's",
        params: z.strictObject({ id }),
        body: rulesBody,
        response: { 200: rulesAnswer, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      if (!(await store.users.get(request.params.id))) throw notFound('The user');
      const rules = rulesOf(request.body.rules);
      await store.egress.setUserAllowlist(request.params.id, rules);
      await store.audit.record({
        actorId: currentUser(request).user.id,
        action: 'egress.user.set',
        target: request.params.id,
        details: { rules },
      });
      return { rules, installation };
    },
  );
};
