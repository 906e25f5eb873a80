import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { User } from '../../store/types.js';
import { forbidden, unauthorized } from '../errors.js';

/** The browser's session cookie: a token of its own, issued at login and revoked at logout. */
export const sessionCookieName = 'ipa_session';
export const sessionCookiePath = '/api';

export interface Authenticated {
  user: User;
  tokenId: string;
  /** How the token came: a cookie session may be ended by logout; a bearer token is left alone. */
  via: 'bearer' | 'cookie';
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: Authenticated | null;
  }
  interface FastifyInstance {
    /** onRequest hook: answers 401 unless the request carries a live token. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** onRequest hook (after `authenticate`): answers 403 unless the user is an administrator. */
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** Forgets what is known about a token at once (logout, revocation). */
    forgetToken(tokenId: string): void;
  }
}

/** The token a request presents, or null. A malformed Authorization header is refused, not ignored. */
export function presentedToken(request: FastifyRequest): { token: string; via: 'bearer' | 'cookie' } | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <token>".');
    return { token: match[1], via: 'bearer' };
  }
  const cookie = request.cookies?.[sessionCookieName];
  return cookie ? { token: cookie, via: 'cookie' } : null;
}

/** A key that names a token without being it (rate-limit keys, cache keys). */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 32);
}

interface CachedAuth {
  result: { user: User; tokenId: string } | null;
  until: number;
}

/**
 * Authentication is on every request's path, so a successful lookup is remembered briefly.
 * Revocation on this replica takes effect at once (`forgetToken`); on other replicas within
 * `cacheMs`. Unknown tokens are not cached, so a token issued elsewhere works immediately.
 */
export const authPlugin = fp(
  async (app: FastifyInstance, options: { cacheMs: number }) => {
    const cache = new Map<string, CachedAuth>();
    const maxEntries = 10_000;

    app.decorateRequest('auth', null);

    const lookup = async (token: string) => {
      const key = tokenKey(token);
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) return hit.result;
      const result = await app.services.store.tokens.authenticate(token);
      if (result && options.cacheMs > 0) {
        if (cache.size >= maxEntries) {
          // Oldest entry first: Map iteration follows insertion order.
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        cache.set(key, { result, until: now + options.cacheMs });
      } else {
        cache.delete(key);
      }
      return result;
    };

    app.decorate('authenticate', async (request: FastifyRequest) => {
      const presented = presentedToken(request);
      if (!presented) throw unauthorized();
      const found = await lookup(presented.token);
      if (!found) {
        throw unauthorized(
          presented.via === 'cookie'
            ? 'Your session has ended; please sign in again.'
            : 'The token is unknown or has been revoked.',
        );
      }
      request.auth = { user: found.user, tokenId: found.tokenId, via: presented.via };
    });

    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      if (!request.auth) throw unauthorized();
      if (!request.auth.user.isAdmin) throw forbidden();
    });

    app.decorate('forgetToken', (tokenId: string) => {
      for (const [key, entry] of cache) {
        if (entry.result?.tokenId === tokenId) cache.delete(key);
      }
    });
  },
  { name: 'ipa-auth', dependencies: ['ipa-services'] },
);

/** The authenticated user of a request that went through `authenticate`. */
export function currentUser(request: FastifyRequest): Authenticated {
  if (!request.auth) throw unauthorized();
  return request.auth;
}
