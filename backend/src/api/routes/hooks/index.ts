import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  signatureHeader,
  signatureToleranceSeconds,
  verifySignature,
} from '../../../automations/signature.js';
import { isUuid } from '../../../store/sql.js';
import { terminalStatuses } from '../../../store/types.js';
import { ApiError, notFound } from '../../errors.js';
import { queueAutomationRun } from '../automations/runs.js';
import { waitForExecution } from './wait.js';

const maxWaitSeconds = 30;
const query = z.strictObject({ wait: z.coerce.number().int().min(0).max(maxWaitSeconds).optional() });

const signatureMessages = {
  missing: `The ${signatureHeader} header is missing.`,
  malformed: `The ${signatureHeader} header must look like t=<unix seconds>,v1=<hex HMAC-SHA256>.`,
  expired: `The signature's timestamp is more than ${signatureToleranceSeconds} s away from now.`,
  mismatch: 'The signature does not match the body.',
} as const;

/**
 * `POST /hooks/<trigger id>`: a webhook delivery, outside `/api` and without a session. It is
 * taken only with a valid, fresh, never-seen signature of `<t>.<raw body>`; nothing is queued on
 * any refusal. The raw body is kept (any content type) because the signature covers its bytes.
 */
export const hookRoutes: FastifyPluginAsync = async (app) => {
  const { store, config } = app.services;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: config.webhooks.maxBodyBytes },
    (_req, body, done) => done(null, body),
  );

  app.post<{ Params: { triggerId: string }; Querystring: Record<string, unknown>; Body: Buffer | undefined }>(
    '/hooks/:triggerId',
    {
      bodyLimit: config.webhooks.maxBodyBytes,
      config: {
        rateLimit: {
          max: config.webhooks.rateLimitPerMinute,
          timeWindow: 60_000,
          allowList: () => false,
          keyGenerator: (request) =>
            `hook:${(request.params as { triggerId?: string }).triggerId ?? ''}`.slice(0, 100),
        },
      },
      schema: { hide: true },
    },
    async (request, reply) => {
      const parsedQuery = query.safeParse(request.query);
      if (!parsedQuery.success) {
        throw new ApiError(
          400,
          'validation_failed',
          `wait is 0 to ${maxWaitSeconds} seconds; no other parameter is known.`,
        );
      }
      const { triggerId } = request.params;
      const target = isUuid(triggerId) ? await store.webhooks.target(triggerId) : null;
      // Unknown, disabled, or of a disabled automation: all look alike from outside.
      if (!target?.enabled || !target.automationEnabled) throw notFound('The webhook');
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const header = request.headers[signatureHeader];
      const check = verifySignature(typeof header === 'string' ? header : undefined, target.secret, body);
      if (!check.ok) {
        throw new ApiError(401, 'invalid_signature', signatureMessages[check.reason], {
          reason: check.reason,
        });
      }
      // Remembered past its tolerance window, so a replay is refused on every replica.
      const fresh = await store.webhooks.rememberSignature(
        target.id,
        check.signature,
        new Date((check.timestamp + signatureToleranceSeconds + 60) * 1000),
      );
      if (!fresh) throw new ApiError(409, 'replayed_signature', 'This signature was already delivered.');

      let input: unknown;
      const type = request.headers['content-type'] ?? '';
      if (/^application\/([\w.+-]+\+)?json\b/i.test(type) && body.length > 0) {
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          throw new ApiError(400, 'invalid_json', 'The body is not valid JSON.');
        }
      } else if (body.length > 0) {
        input = body.toString('utf8');
      }
      const automation = await store.automations.get(target.userId, target.automationId);
      if (!automation) throw notFound('The webhook');
      const execution = await queueAutomationRun(app, {
        automation,
        input,
        trigger: 'webhook',
        triggerId: target.id,
        inputPath: 'body',
      });
      const wait = parsedQuery.data.wait ?? 0;
      if (wait === 0) return reply.code(202).send({ executionId: execution.id });
      const finished = await waitForExecution(app.services, execution.id, wait * 1000);
      if (!finished || !terminalStatuses.includes(finished.status)) {
        return reply.code(202).send({ executionId: execution.id, status: finished?.status ?? 'queued' });
      }
      if (finished.status === 'succeeded') {
        return reply
          .code(200)
          .send({ executionId: execution.id, status: finished.status, result: finished.result });
      }
      throw new ApiError(422, 'run_failed', finished.error?.message ?? `The run ended ${finished.status}.`, {
        executionId: execution.id,
        status: finished.status,
        error: finished.error,
      });
    },
  );
};
