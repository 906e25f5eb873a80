import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chooseProvider } from '../../../engine/agent/providers.js';
import { platformCapabilities } from '../../capabilities.js';
import { currentUser } from '../../plugins/auth.js';
import { liveWorkers } from '../../redis.js';
import { errors, scriptLanguages, userSchema } from '../../schemas/common.js';

export const meRoutes: FastifyPluginAsyncZod<{ version: string }> = async (app, options) => {
  const { store, config } = app.services;

  app.get(
    '/me',
    {
      schema: {
        tags: ['me'],
        summary: 'The signed-in user, their storage quota and what the platform offers',
        response: {
          200: z.object({
            user: userSchema,
            quota: z.object({ usedBytes: z.number(), limitBytes: z.number() }),
            platform: z.object({
              isolation: z.enum(['bwrap', 'process']),
              languages: z.array(z.enum(scriptLanguages)),
              version: z.string(),
              modelConfigured: z
                .boolean()
                .describe('Whether a model provider is configured; chat cannot answer without one'),
            }),
          }),
          ...errors(401),
        },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      const [usedBytes, heartbeats] = await Promise.all([
        store.files.usage(user.id),
        // The heartbeats only refine the answer; a Redis hiccup must not fail the page.
        liveWorkers(app.services),
      ]);
      const { isolation, languages } = platformCapabilities(heartbeats);
      return {
        user,
        quota: { usedBytes, limitBytes: config.files.userQuotaBytes },
        platform: {
          isolation,
          languages,
          version: options.version,
          modelConfigured: !('error' in chooseProvider(config.model)),
        },
      };
    },
  );
};
