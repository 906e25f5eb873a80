import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { letTimePass } from '../support/fixed-wait.js';
import {
  createTestAdmin,
  createTestPlatform,
  createTestUser,
  startTestApi,
  type TestPlatform,
} from '../support/platform.js';
import { request } from './client.js';

/**
 * The API's short-lived cache of token lookups (AUTH_CACHE_MS): a revoked token stops at once on
 * the replica that revoked it, and on the others once their cached lookup runs out.
 */
const cacheMs = 600;

describe('token lookup cache across API replicas', () => {
  let platform: TestPlatform;

  beforeAll(async () => {
    platform = await createTestPlatform({ env: { AUTH_CACHE_MS: String(cacheMs) } });
  });

  afterAll(async () => {
    await platform?.cleanup();
  });

  it('revocation: at once on this replica, within AUTH_CACHE_MS on another', async () => {
    const { services } = platform;
    const first = await startTestApi(services);
    const second = await startTestApi(services);
    try {
      const admin = await createTestAdmin(services);
      const { user, token } = await createTestUser(services, 'cached');
      const tokenId = (await services.store.tokens.list(user.id))[0]?.id;
      const sessions = (url: string) => request(url, 'GET', '/api/v1/sessions', { token });
      // Both replicas have looked the token up (and remember it).
      expect((await sessions(first.url)).status).toBe(200);
      expect((await sessions(second.url)).status).toBe(200);

      const revoked = await request(first.url, 'DELETE', `/api/v1/admin/users/${user.id}/tokens/${tokenId}`, {
        token: admin.token,
      });
      const revokedAt = Date.now();
      expect(revoked.status).toBe(204);
      expect((await sessions(first.url)).status).toBe(401);
      // The other replica looked the token up before the revocation, so its cached lookup ends
      // no later than AUTH_CACHE_MS after it: from then on the token is refused there too. A fixed
      // wait on purpose: the check is at that deadline, and the cache's expiry signals nothing.
      await letTimePass(Math.max(0, revokedAt + cacheMs - Date.now()));
      expect((await sessions(second.url)).status).toBe(401);
    } finally {
      await first.drain();
      await second.drain();
    }
  });

  it('remembers a lookup: a token works from the cache while the database is not asked', async () => {
    const { services } = platform;
    const api = await startTestApi(services, { authCacheMs: 60_000 });
    try {
      const { token } = await createTestUser(services, 'remembered');
      expect((await request(api.url, 'GET', '/api/v1/sessions', { token })).status).toBe(200);
      const original = services.store.tokens.authenticate;
      let lookups = 0;
      services.store.tokens.authenticate = (...args) => {
        lookups++;
        return original(...args);
      };
      try {
        for (let i = 0; i < 3; i++)
          expect((await request(api.url, 'GET', '/api/v1/sessions', { token })).status).toBe(200);
        expect(lookups).toBe(0);
      } finally {
        services.store.tokens.authenticate = original;
      }
    } finally {
      await api.drain();
    }
  });
});
