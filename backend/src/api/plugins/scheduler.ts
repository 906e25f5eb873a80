import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createScheduler, type Scheduler } from '../../automations/scheduler.js';
import { ApiError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Fires automation schedules; one per API replica, the database picks who fires each tick. */
    scheduler: Scheduler;
  }
}

export interface SchedulerPluginOptions {
  /** Off: this replica fires nothing (the others still do). */
  enabled?: boolean;
  misfireMs?: number;
  maxSleepMs?: number;
}

/** Starts with the server and stops before it closes, so no tick is taken by a closing replica. */
export const schedulerPlugin = fp<SchedulerPluginOptions>(
  async (app: FastifyInstance, options) => {
    const scheduler = createScheduler({
      store: app.services.store,
      logger: app.services.logger,
      submit: (userId, create) => app.submitExecution(userId, create),
      isLimitReached: (err) => err instanceof ApiError && err.code === 'too_many_executions',
      misfireMs: options.misfireMs,
      maxSleepMs: options.maxSleepMs,
    });
    app.decorate('scheduler', scheduler);
    if (options.enabled === false) return;
    app.addHook('onReady', async () => scheduler.start());
    app.addHook('preClose', async () => scheduler.stop());
  },
  { name: 'ipa-scheduler', dependencies: ['ipa-services', 'ipa-submit'] },
);
