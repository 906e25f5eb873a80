import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
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
              sandboxUids: z
                .enum(['separate', 'shared'])
                .describe(
                  'separate: every live sandbox has a uid of its own. shared: sandboxes share the worker uid — at process level a script can signal other sandboxes; at bwrap level the pid namespace stops it.',
                ),
              version: z.string(),
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
      const { isolation, languages, sandboxUids } = platformCapabilities(heartbeats);
      return {
        user,
        quota: { usedBytes, limitBytes: config.files.userQuotaBytes },
        platform: { isolation, languages, sandboxUids, version: options.version },
      };
    },
  );
};
