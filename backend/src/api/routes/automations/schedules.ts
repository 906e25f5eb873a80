import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkCron, InvalidScheduleError, nextFireTime, nextFireTimes } from '../../../automations/cron.js';
import { prepareInput } from '../../../automations/input.js';
import type { Schedule, ScheduleSettings } from '../../../store/types.js';
import { ApiError, notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { errors, id } from '../../schemas/common.js';
import { inputValue, scheduleSchema } from './schemas.js';

const params = z.strictObject({ id });
const scheduleParams = z.strictObject({ id, scheduleId: id });
const settingsBody = z.strictObject({
  cron: z.string().min(1).max(200).describe('5 fields (minute first) or 6 (second first).'),
  timeZone: z.string().min(1).max(100).default('UTC').describe('An IANA zone, e.g. Asia/Taipei.'),
  input: inputValue,
  enabled: z.boolean().default(true),
  overlap: z
    .enum(['skip', 'allow'])
    .default('skip')
    .describe('skip: no new run while the previous one is active.'),
  catchUp: z
    .enum(['skip', 'once'])
    .default('skip')
    .describe('After downtime: skip missed ticks, or run once.'),
});

/** A schedule as the API shows it: with its next five ticks. */
export function presentSchedule(schedule: Schedule) {
  const nextFireTimesList =
    schedule.enabled && schedule.nextFireAt
      ? [
          schedule.nextFireAt,
          ...nextFireTimes(schedule.cron, schedule.timeZone, new Date(schedule.nextFireAt), 4).map((d) =>
            d.toISOString(),
          ),
        ]
      : [];
  return { ...schedule, nextFireTimes: nextFireTimesList };
}

export const scheduleRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store } = app.services;
  const tags = ['automations'];

  async function settingsOf(
    userId: string,
    automationId: string,
    body: z.infer<typeof settingsBody>,
  ): Promise<ScheduleSettings> {
    const automation = await store.automations.get(userId, automationId);
    if (!automation) throw notFound('The automation');
    try {
      checkCron(body.cron, body.timeZone);
    } catch (err) {
      if (err instanceof InvalidScheduleError) {
        throw new ApiError(400, 'validation_failed', err.message, [
          { path: `body.${err.field}`, message: err.message },
        ]);
      }
      throw err;
    }
    // A schedule's input is checked once here, so its ticks never fail on it.
    const prepared = prepareInput(automation.inputSchema, body.input);
    if (!prepared.ok) {
      throw new ApiError(
        400,
        'validation_failed',
        'The input does not match the automation’s schema.',
        prepared.problems,
      );
    }
    const next = nextFireTime(body.cron, body.timeZone, new Date());
    return {
      ...body,
      input: body.input,
      nextFireAt: body.enabled && automation.enabled && next ? next.toISOString() : null,
    };
  }

  app.get(
    '/automations/:id/schedules',
    {
      schema: {
        tags,
        summary: 'Schedules of an automation',
        params,
        response: { 200: z.object({ items: z.array(scheduleSchema) }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const items = await store.schedules.list(currentUser(request).user.id, request.params.id);
      if (!items) throw notFound('The automation');
      return { items: items.map(presentSchedule) };
    },
  );

  app.post(
    '/automations/:id/schedules',
    {
      schema: {
        tags,
        summary: 'Add a schedule (cron in an IANA time zone)',
        params,
        body: settingsBody,
        response: { 201: scheduleSchema, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      const settings = await settingsOf(user.id, request.params.id, request.body);
      const created = await store.schedules.create(user.id, request.params.id, settings);
      if (!created) throw notFound('The automation');
      app.scheduler.wake();
      return reply.code(201).send(presentSchedule(created));
    },
  );

  app.get(
    '/automations/:id/schedules/:scheduleId',
    {
      schema: {
        tags,
        summary: 'One schedule',
        params: scheduleParams,
        response: { 200: scheduleSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const found = await store.schedules.get(
        currentUser(request).user.id,
        request.params.id,
        request.params.scheduleId,
      );
      if (!found) throw notFound('The schedule');
      return presentSchedule(found);
    },
  );

  app.put(
    '/automations/:id/schedules/:scheduleId',
    {
      schema: {
        tags,
        summary: 'Replace a schedule’s settings (its next tick is computed anew)',
        params: scheduleParams,
        body: settingsBody,
        response: { 200: scheduleSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      const settings = await settingsOf(user.id, request.params.id, request.body);
      const updated = await store.schedules.update(
        user.id,
        request.params.id,
        request.params.scheduleId,
        settings,
      );
      if (!updated) throw notFound('The schedule');
      app.scheduler.wake();
      return presentSchedule(updated);
    },
  );

  app.delete(
    '/automations/:id/schedules/:scheduleId',
    {
      schema: {
        tags,
        summary: 'Delete a schedule',
        params: scheduleParams,
        response: { 204: z.null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { user } = currentUser(request);
      if (!(await store.schedules.delete(user.id, request.params.id, request.params.scheduleId))) {
        throw notFound('The schedule');
      }
      return reply.code(204).send(null);
    },
  );
};
