import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { languageRequirement } from '../../../lib/vocabulary.js';
import { terminalStatuses } from '../../../store/types.js';
import { platformCapabilities } from '../../capabilities.js';
import { ApiError, conflict, notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { liveWorkers, recentWorkers, viaRedis } from '../../redis.js';
import {
  errors,
  executionKinds,
  executionSchema,
  executionStatuses,
  id,
  idParams,
  pageOf,
  pageQuery,
  runTriggers,
  scriptLanguages,
} from '../../schemas/common.js';
import { type EventStreamOptions, eventRoutes } from './events.js';

/** Largest script accepted, in UTF-8 bytes. */
export const maxCodeBytes = 1024 * 1024;
/** Largest `input` value, serialized. */
export const maxInputBytes = 1024 * 1024;

const scriptRun = z.strictObject({
  language: z.enum(scriptLanguages),
  code: z
    .string()
    .min(1)
    .refine((code) => Buffer.byteLength(code, 'utf8') <= maxCodeBytes, {
      message: `must be at most ${maxCodeBytes} bytes`,
    }),
  input: z
    .unknown()
    .optional()
    .refine((value) => value === undefined || Buffer.byteLength(JSON.stringify(value)) <= maxInputBytes, {
      message: `must be at most ${maxInputBytes} bytes as JSON`,
    })
    .describe('Any JSON value, handed to the script.'),
});

export const executionRoutes: FastifyPluginAsyncZod<EventStreamOptions> = async (app, options) => {
  const { store, events, config, logger } = app.services;

  app.post(
    '/executions',
    {
      // A 1 MiB script with JSON escapes, plus its input.
      bodyLimit: 4 * 1024 * 1024,
      schema: {
        tags: ['executions'],
        summary: 'Run a script in your sandbox (202; follow it on /executions/{id}/events)',
        body: scriptRun,
        response: { 202: executionSchema, ...errors(400, 401, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const { language, code, input } = request.body;
      const refuses = (c: ReturnType<typeof platformCapabilities>) =>
        c.workersKnown && !c.languages.includes(language);
      let capabilities = platformCapabilities(await recentWorkers(app.services));
      // A refusal is never made on a reused list: the live workers are asked again first.
      if (refuses(capabilities)) capabilities = platformCapabilities(await liveWorkers(app.services));
      // Refused here only when the live workers say so; with none known the worker decides.
      if (refuses(capabilities)) {
        throw new ApiError(
          400,
          'unsupported_language',
          `${language} is not offered by this platform's workers (${languageRequirement(language)}; they run at '${capabilities.isolation}' level and offer ${capabilities.languages.join(', ')}).`,
        );
      }
      const { execution } = await app.submitExecution(user.id, {
        userId: user.id,
        kind: 'script',
        input: input === undefined ? { language, code } : { language, code, input },
      });
      return reply.code(202).send(execution);
    },
  );

  app.get(
    '/executions',
    {
      schema: {
        tags: ['executions'],
        summary: 'Your executions, newest first',
        querystring: z.strictObject({
          status: z.enum(executionStatuses).optional(),
          sessionId: id.optional(),
          kind: z.enum(executionKinds).optional(),
          automationId: id.optional(),
          trigger: z.enum(runTriggers).optional(),
          ...pageQuery,
        }),
        response: { 200: pageOf(executionSchema), ...errors(400, 401) },
      },
    },
    async (request) => store.executions.list(currentUser(request).user.id, request.query),
  );

  app.get(
    '/executions/:id',
    {
      schema: {
        tags: ['executions'],
        summary: 'One execution',
        params: idParams,
        response: { 200: executionSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const execution = await store.executions.get(request.params.id, currentUser(request).user.id);
      if (!execution) throw notFound('The execution');
      return execution;
    },
  );

  app.post(
    '/executions/:id/cancel',
    {
      schema: {
        tags: ['executions'],
        summary: 'Cancel an execution: a queued one ends at once, a running one is stopped by its worker',
        params: idParams,
        response: { 202: executionSchema, ...errors(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const executionId = request.params.id;
      const current = await store.executions.get(executionId, user.id);
      if (!current) throw notFound('The execution');
      if (terminalStatuses.includes(current.status)) {
        throw conflict(`The execution has already finished (${current.status}).`);
      }
      // The flag comes first: a worker that picks the job up right now sees it and stops.
      const flagged = await store.executions.requestCancel(executionId, user.id);
      if (!flagged) throw notFound('The execution');
      if (flagged.status === 'queued') {
        const finished = await store.executions.finish(executionId, { status: 'cancelled' });
        if (finished) {
          try {
            await viaRedis(app.services, 'event log', async () => {
              await events.append(executionId, 'execution.cancelled', { status: 'cancelled', durationMs: 0 });
              await events.expire(executionId, config.executions.eventRetentionSeconds);
            });
          } catch (err) {
            // The cancel itself is done; a stream that misses its terminal event is ended from
            // the execution's row by the event stream route.
            logger.warn({ err, executionId }, 'could not announce a cancellation');
          }
        }
      }
      const latest = await store.executions.get(executionId, user.id);
      if (!latest) throw notFound('The execution');
      return reply.code(202).send(latest);
    },
  );

  await app.register(eventRoutes, options);
};
