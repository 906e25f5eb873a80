import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkInputSchema, InvalidInputSchemaError } from '../../../automations/input.js';
import { VersionConflictError } from '../../../store/types.js';
import { ApiError, notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import {
  errors,
  executionSchema,
  id,
  idParams,
  pageOf,
  pageQuery,
  scriptLanguages,
} from '../../schemas/common.js';
import { queueAutomationRun } from './runs.js';
import { scheduleRoutes } from './schedules.js';
import {
  automationSchema,
  automationSummarySchema,
  code,
  description,
  inputSchemaField,
  inputValue,
  name,
  versionSchema,
} from './schemas.js';
import { webhookTriggerRoutes } from './webhooks.js';

/** A script up to 1 MiB with JSON escapes, plus its schema. */
const contentBodyLimit = 4 * 1024 * 1024;

function checkSchema(schema: Record<string, unknown> | null | undefined): void {
  if (!schema) return;
  try {
    checkInputSchema(schema);
  } catch (err) {
    if (err instanceof InvalidInputSchemaError) {
      throw new ApiError(400, 'validation_failed', err.message, [
        { path: 'body.inputSchema', message: err.message },
      ]);
    }
    throw err;
  }
}

export const automationRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store } = app.services;
  const tags = ['automations'];
  const owned = async (userId: string, automationId: string) => {
    const automation = await store.automations.get(userId, automationId);
    if (!automation) throw notFound('The automation');
    return automation;
  };

  app.get(
    '/automations',
    {
      schema: {
        tags,
        summary: 'Your automations, newest first, with their last run and next tick',
        querystring: z.strictObject({ search: z.string().min(1).max(200).optional(), ...pageQuery }),
        response: { 200: pageOf(automationSummarySchema), ...errors(400, 401) },
      },
    },
    async (request) => store.automations.list(currentUser(request).user.id, request.query),
  );

  app.post(
    '/automations',
    {
      bodyLimit: contentBodyLimit,
      schema: {
        tags,
        summary: 'Save a new automation (version 1)',
        body: z.strictObject({
          name,
          description: description.optional(),
          language: z.enum(scriptLanguages),
          code,
          inputSchema: inputSchemaField,
          enabled: z.boolean().optional(),
        }),
        response: { 201: automationSchema, ...errors(400, 401, 413) },
      },
    },
    async (request, reply) => {
      checkSchema(request.body.inputSchema);
      const created = await store.automations.create(currentUser(request).user.id, request.body);
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/automations/:id',
    {
      schema: {
        tags,
        summary: 'One automation',
        params: idParams,
        response: { 200: automationSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => owned(currentUser(request).user.id, request.params.id),
  );

  app.patch(
    '/automations/:id',
    {
      bodyLimit: contentBodyLimit,
      schema: {
        tags,
        summary: 'Change an automation: new content is saved as a new version',
        params: idParams,
        body: z.strictObject({
          name: name.optional(),
          description: description.optional(),
          language: z.enum(scriptLanguages).optional(),
          code: code.optional(),
          inputSchema: inputSchemaField,
          expectedVersion: z
            .number()
            .int()
            .min(1)
            .optional()
            .describe('The version you edited: 409 when someone saved a newer one meanwhile.'),
        }),
        response: { 200: automationSchema, ...errors(400, 401, 404, 409, 413) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      checkSchema(request.body.inputSchema);
      try {
        const updated = await store.automations.update(user.id, request.params.id, {
          ...request.body,
          authorId: user.id,
        });
        if (!updated) throw notFound('The automation');
        return updated;
      } catch (err) {
        if (err instanceof VersionConflictError) {
          throw new ApiError(
            409,
            'conflict',
            `The automation was saved meanwhile (now version ${err.currentVersion}).`,
            {
              currentVersion: err.currentVersion,
            },
          );
        }
        throw err;
      }
    },
  );

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(
      `/automations/:id/${action}`,
      {
        schema: {
          tags,
          summary: enabled
            ? 'Enable an automation: its schedules and webhooks start runs again'
            : 'Disable an automation: schedules stop, webhooks answer 404',
          params: idParams,
          response: { 200: automationSchema, ...errors(400, 401, 404) },
        },
      },
      async (request) => {
        const { user } = currentUser(request);
        const automation = await store.automations.setEnabled(user.id, request.params.id, enabled);
        if (!automation) throw notFound('The automation');
        await app.scheduler.automationToggled(user.id, automation.id, enabled);
        return automation;
      },
    );
  }

  app.delete(
    '/automations/:id',
    {
      schema: {
        tags,
        summary: 'Delete an automation with its versions, schedules and triggers (its runs stay)',
        params: idParams,
        response: { 204: z.null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      if (!(await store.automations.delete(currentUser(request).user.id, request.params.id))) {
        throw notFound('The automation');
      }
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/automations/:id/versions',
    {
      schema: {
        tags,
        summary: 'Saved versions, newest first',
        params: idParams,
        querystring: z.strictObject(pageQuery),
        response: { 200: pageOf(versionSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const page = await store.automations.versions(
        currentUser(request).user.id,
        request.params.id,
        request.query,
      );
      if (!page) throw notFound('The automation');
      return page;
    },
  );

  app.get(
    '/automations/:id/versions/:version',
    {
      schema: {
        tags,
        summary: 'One saved version',
        params: z.strictObject({ id, version: z.coerce.number().int().min(1).max(2_000_000_000) }),
        response: { 200: versionSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { id: automationId, version } = request.params;
      const found = await store.automations.version(currentUser(request).user.id, automationId, version);
      if (!found) throw notFound('The version');
      return found;
    },
  );

  app.post(
    '/automations/:id/runs',
    {
      bodyLimit: contentBodyLimit,
      schema: {
        tags,
        summary: 'Run an automation (202); the input is checked against its schema first',
        params: idParams,
        body: z.strictObject({ input: inputValue, version: z.number().int().min(1).optional() }).optional(),
        response: { 202: executionSchema, ...errors(400, 401, 404, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const authenticated = currentUser(request);
      const automation = await owned(authenticated.user.id, request.params.id);
      const execution = await queueAutomationRun(app, {
        automation,
        version: request.body?.version,
        input: request.body?.input,
        // The web app signs in with a cookie: a person pressed "run"; a token is a program.
        trigger: authenticated.via === 'cookie' ? 'manual' : 'api',
      });
      return reply.code(202).send(execution);
    },
  );

  app.get(
    '/automations/:id/runs',
    {
      schema: {
        tags,
        summary: 'Runs of an automation, newest first',
        params: idParams,
        querystring: z.strictObject({
          trigger: z.enum(['manual', 'api', 'schedule', 'webhook']).optional(),
          ...pageQuery,
        }),
        response: { 200: pageOf(executionSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      await owned(user.id, request.params.id);
      return store.executions.list(user.id, { ...request.query, automationId: request.params.id });
    },
  );

  await app.register(scheduleRoutes);
  await app.register(webhookTriggerRoutes);
};
