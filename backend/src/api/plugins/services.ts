import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Services } from '../../services.js';
import type { ApiLifecycle } from '../lifecycle.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process-wide dependencies; routes use these and never build clients of their own. */
    services: Services;
    lifecycle: ApiLifecycle;
  }
}

export const servicesPlugin = fp(
  async (app: FastifyInstance, options: { services: Services; lifecycle: ApiLifecycle }) => {
    app.decorate('services', options.services);
    app.decorate('lifecycle', options.lifecycle);
  },
  { name: 'ipa-services' },
);
