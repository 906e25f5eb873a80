import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { newWebhookSecret } from '../../../automations/signature.js';
import type { WebhookTrigger } from '../../../store/types.js';
import { notFound } from '../../errors.js';
import { currentUser } from '../../plugins/auth.js';
import { errors, id } from '../../schemas/common.js';
import { name, webhookSecretSchema, webhookTriggerSchema } from './schemas.js';

const params = z.strictObject({ id });
const triggerParams = z.strictObject({ id, triggerId: id });

export const presentTrigger = (trigger: WebhookTrigger) => ({ ...trigger, path: `/hooks/${trigger.id}` });

export const webhookTriggerRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store } = app.services;
  const tags = ['automations'];

  app.get(
    '/automations/:id/webhooks',
    {
      schema: {
        tags,
        summary: 'Webhook triggers of an automation (secrets are never shown again)',
        params,
        response: { 200: z.object({ items: z.array(webhookTriggerSchema) }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const items = await store.webhooks.list(currentUser(request).user.id, request.params.id);
      if (!items) throw notFound('The automation');
      return { items: items.map(presentTrigger) };
    },
  );

  app.post(
    '/automations/:id/webhooks',
    {
      schema: {
        tags,
        summary: 'Add a webhook trigger; its signing secret is in this answer only',
        params,
        body: z.strictObject({ name: name.default('webhook') }),
        response: { 201: webhookSecretSchema, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const secret = newWebhookSecret();
      const trigger = await store.webhooks.create(currentUser(request).user.id, request.params.id, {
        name: request.body.name,
        secret,
      });
      if (!trigger) throw notFound('The automation');
      return reply.code(201).send({ trigger: presentTrigger(trigger), secret });
    },
  );

  app.patch(
    '/automations/:id/webhooks/:triggerId',
    {
      schema: {
        tags,
        summary: 'Enable or disable a webhook trigger (a disabled one answers 404)',
        params: triggerParams,
        body: z.strictObject({ enabled: z.boolean() }),
        response: { 200: webhookTriggerSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { id: automationId, triggerId } = request.params;
      const trigger = await store.webhooks.setEnabled(
        currentUser(request).user.id,
        automationId,
        triggerId,
        request.body.enabled,
      );
      if (!trigger) throw notFound('The webhook trigger');
      return presentTrigger(trigger);
    },
  );

  app.post(
    '/automations/:id/webhooks/:triggerId/rotate',
    {
      schema: {
        tags,
        summary: 'Replace the signing secret; the old one stops working at once',
        params: triggerParams,
        response: { 200: webhookSecretSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { id: automationId, triggerId } = request.params;
      const secret = newWebhookSecret();
      const trigger = await store.webhooks.rotate(
        currentUser(request).user.id,
        automationId,
        triggerId,
        secret,
      );
      if (!trigger) throw notFound('The webhook trigger');
      return { trigger: presentTrigger(trigger), secret };
    },
  );

  app.delete(
    '/automations/:id/webhooks/:triggerId',
    {
      schema: {
        tags,
        summary: 'Delete a webhook trigger',
        params: triggerParams,
        response: { 204: z.null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { id: automationId, triggerId } = request.params;
      if (!(await store.webhooks.delete(currentUser(request).user.id, automationId, triggerId))) {
        throw notFound('The webhook trigger');
      }
      return reply.code(204).send(null);
    },
  );
};
