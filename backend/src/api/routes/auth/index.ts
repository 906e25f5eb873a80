import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { unauthorized } from '../../errors.js';
import { sessionCookieName, sessionCookiePath } from '../../plugins/auth.js';
import { errors, userSchema } from '../../schemas/common.js';
import { describeDevice } from './device.js';

/** How long a browser session lasts without a new login. */
const sessionMaxAgeSeconds = 30 * 86_400;

/**
 * Browser sign-in: an API token is exchanged for a session cookie holding a token of its own, so
 * signing out revokes the session without touching the token the user typed in. The session's
 * token expires on the server with the cookie.
 */
export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const { store, config } = app.services;

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange an API token for an HttpOnly session cookie',
        security: [],
        body: z.strictObject({ token: z.string().min(1).max(512) }),
        response: { 200: z.object({ user: userSchema }), ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const found = await store.tokens.authenticate(request.body.token);
      if (!found) {
        await store.audit.record({
          actorId: null,
          action: 'auth.login_failed',
          details: { ip: request.ip },
        });
        throw unauthorized('The token is unknown or has been revoked.');
      }
      // A sign-in, not an API token: listed apart, by the device it came from.
      const session = await store.tokens.issue(found.user.id, 'browser sign-in', {
        expiresInSeconds: sessionMaxAgeSeconds,
        kind: 'signin',
        device: describeDevice(request.headers['user-agent']),
      });
      // Ended sign-ins (expired, or signed out) of this user are of no use any more.
      await store.tokens.deleteEnded(found.user.id);
      await store.audit.record({
        actorId: found.user.id,
        action: 'auth.login',
        target: session.info.id,
        details: { ip: request.ip },
      });
      void reply.setCookie(sessionCookieName, session.token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: config.http.secureCookies,
        path: sessionCookiePath,
        maxAge: sessionMaxAgeSeconds,
      });
      return { user: found.user };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the cookie session (revokes its token) and clear the cookie',
        security: [],
        response: { 204: z.null(), ...errors(400) },
      },
    },
    async (request, reply) => {
      const cookie = request.cookies[sessionCookieName];
      if (cookie) {
        const found = await store.tokens.authenticate(cookie);
        if (found) {
          await store.tokens.revoke(found.user.id, found.tokenId);
          app.forgetToken(found.tokenId);
          await store.audit.record({ actorId: found.user.id, action: 'auth.logout', target: found.tokenId });
        }
      }
      void reply.clearCookie(sessionCookieName, {
        path: sessionCookiePath,
        httpOnly: true,
        sameSite: 'strict',
        secure: config.http.secureCookies,
      });
      return reply.code(204).send(null);
    },
  );
};
