import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatRule, parseAllowList } from '../../../egress/policy.js';
import { platformCapabilities } from '../../capabilities.js';
import { notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { liveWorkers } from '../../redis.js';
import { errors, scriptLanguages, userSchema } from '../../schemas/common.js';

function egressSummary(config: { egress: { allow: string } }, isolation: 'bwrap' | 'process') {
  const allow = parseAllowList(config.egress.allow).map(formatRule);
  return {
    enforced: isolation === 'bwrap',
    allow,
    note:
      isolation === 'bwrap'
        ? 'Sandboxes reach the network only through the egress proxy and its allowlists.'
        : 'Sandboxes run at process level: the egress allowlist cannot be enforced there, code can reach the network directly; secrets still go only through the proxy.',
  };
}

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
              egress: z.object({
                /** The proxy is the only way out (bwrap); at `process` level code can bypass it. */
                enforced: z.boolean(),
                allow: z.array(z.string()),
                note: z.string(),
              }),
              modelConfigured: z
                .boolean()
                .optional()
                .describe(
                  'Whether the live workers have a model provider (chat cannot answer without one); absent while no worker has said',
                ),
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
      const { isolation, languages, sandboxUids, modelConfigured } = platformCapabilities(heartbeats);
      return {
        user,
        quota: { usedBytes, limitBytes: config.files.userQuotaBytes },
        platform: {
          isolation,
          languages,
          sandboxUids,
          version: options.version,
          egress: egressSummary(config, isolation),
          modelConfigured,
        },
      };
    },
  );

  app.post(
    '/me/sandbox/reset',
    {
      schema: {
        tags: ['me'],
        summary: "Reset your sandbox directory: every worker's copy is discarded; your stored files stay",
        description:
          'A sandbox directory is a cache of the stored files. After a reset, each worker discards its copy of yours (and ends your sandbox process) before it next runs anything of yours, which then starts from your stored files. Works whatever the directory holds.',
        body: z.strictObject({}).nullish(),
        response: { 200: z.object({ generation: z.number().int() }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { user } = currentUser(request);
      const generation = await store.users.resetSandbox(user.id);
      if (generation === null) throw notFound('The user');
      await store.audit.record({
        actorId: user.id,
        action: 'sandbox.reset',
        target: user.id,
        details: { generation },
      });
      return { generation };
    },
  );
};
