import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../../src/api/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createServices } from '../../src/platform.js';
import { createTestPlatform, createTestUser, startTestApi, type TestPlatform } from '../support/platform.js';
import { freshRedisPrefix, redisUrl } from '../support/services.js';
import { request } from './client.js';

describe('createServices (distributed: PostgreSQL and Redis)', () => {
  let platform: TestPlatform;

  beforeAll(async () => {
    platform = await createTestPlatform({ mode: 'distributed', env: { RATE_LIMIT_PER_MINUTE: '6' } });
  });

  afterAll(async () => {
    await platform?.cleanup();
  });

  it('builds the distributed implementations on one shared Redis client and checks them', async () => {
    const { services } = platform;
    expect(services.store.db.kind).toBe('postgres');
    expect(services.redis?.status).toBe('ready');
    await expect(services.checkDependencies()).resolves.toBeUndefined();
    const id = (
      await services.store.executions.create({
        userId: (await createTestUser(services, 'q')).user.id,
        kind: 'script',
        input: { language: 'javascript', code: '1' },
      })
    ).id;
    const eventId = await services.events.append(id, 'execution.queued', { executionId: id, kind: 'script' });
    expect(eventId).toMatch(/^\d+-\d+$/);
    await services.queue.enqueue({ executionId: id, userId: 'u', kind: 'script' });
    expect((await services.queue.counts()).waiting).toBe(1);
  });

  it('shares one rate-limit budget per token across API replicas (counted in Redis)', async () => {
    const first = await startTestApi(platform.services);
    const second = await startTestApi(platform.services);
    try {
      const { token } = await createTestUser(platform.services, 'limited');
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const server = i % 2 === 0 ? first : second;
        statuses.push((await request(server.url, 'GET', '/api/v1/sessions', { token })).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    } finally {
      await first.drain();
      await second.drain();
    }
  });

  it('names the dependency that does not answer', async () => {
    const config = loadConfig('api', {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: freshRedisPrefix(),
    });
    const services = await createServices(config, { logger: createLogger('silent') });
    try {
      const started = Date.now();
      await expect(services.checkDependencies()).rejects.toThrow(/database is unreachable/);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await services.close();
    }
  });
});

describe('ensureAdmin', () => {
  let platform: TestPlatform;

  beforeAll(async () => {
    platform = await createTestPlatform();
  });

  afterAll(async () => {
    await platform?.cleanup();
  });

  it('creates the admin once, stores the token hashed, and revokes a rotated one', async () => {
    const { services } = platform;
    const first = await ensureAdmin(services, 'ipa_first-bootstrap-token-000000000000');
    expect(first).toMatchObject({ name: 'admin', isAdmin: true });
    expect((await ensureAdmin(services, 'ipa_first-bootstrap-token-000000000000')).id).toBe(first.id);
    const rotated = await ensureAdmin(services, 'ipa_second-bootstrap-token-00000000000');
    expect(rotated.id).toBe(first.id);
    expect(await services.store.tokens.authenticate('ipa_first-bootstrap-token-000000000000')).toBeNull();
    expect(
      (await services.store.tokens.authenticate('ipa_second-bootstrap-token-00000000000'))?.user.id,
    ).toBe(first.id);
    const admins = (await services.store.users.list()).items.filter((u) => u.isAdmin);
    expect(admins).toHaveLength(1);
  });

  it('refuses a bootstrap token that belongs to a user who is not an administrator', async () => {
    const { token } = await createTestUser(platform.services, 'not-admin');
    await expect(ensureAdmin(platform.services, token)).rejects.toThrow(/not an administrator/);
  });
});

describe('web app, CORS', () => {
  let dir: string;
  let platform: TestPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ipa-spa-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    await writeFile(path.join(dir, 'assets', 'app-3f9a.js'), 'console.log(1)');
    // Precompressed copies with a content of their own, to tell which file was sent.
    await writeFile(path.join(dir, 'assets', 'app-3f9a.js.br'), brotliCompressSync('console.log("br")'));
    await writeFile(path.join(dir, 'assets', 'app-3f9a.js.gz'), gzipSync('console.log("gz")'));
    platform = await createTestPlatform({ env: { CORS_ORIGINS: 'https://app.example' } });
  });

  afterAll(async () => {
    await platform?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the web app: no-cache index, immutable assets, history fallback; /api stays JSON', async () => {
    const server = await startTestApi(platform.services, { staticDir: dir });
    try {
      const index = await request(server.url, 'GET', '/', { headers: { accept: 'text/html' } });
      expect(index.status).toBe(200);
      expect(index.text).toContain('root');
      expect(index.headers.get('cache-control')).toBe('no-cache');
      expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
      const asset = await request(server.url, 'GET', '/assets/app-3f9a.js');
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const deep = await request(server.url, 'GET', '/sessions/123/chat', {
        headers: { accept: 'text/html' },
      });
      expect(deep.status).toBe(200);
      expect(deep.text).toContain('root');
      expect(deep.headers.get('cache-control')).toBe('no-cache');
      const api = await request(server.url, 'GET', '/api/v1/unknown', { headers: { accept: 'text/html' } });
      expect(api.status).toBe(404);
      expect(api.json).toMatchObject({ error: { code: 'not_found' } });
      const missingAsset = await request(server.url, 'GET', '/assets/gone.js', {
        headers: { accept: '*/*' },
      });
      expect(missingAsset.status).toBe(404);
    } finally {
      await server.drain();
    }
  });

  it('sends the precompressed brotli or gzip file the browser accepts, with the long cache', async () => {
    const server = await startTestApi(platform.services, { staticDir: dir });
    try {
      const br = await request(server.url, 'GET', '/assets/app-3f9a.js', {
        headers: { 'accept-encoding': 'br, gzip' },
      });
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(br.text).toBe('console.log("br")');
      expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const gz = await request(server.url, 'GET', '/assets/app-3f9a.js', {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(gz.headers.get('content-encoding')).toBe('gzip');
      expect(gz.text).toBe('console.log("gz")');
      const plain = await request(server.url, 'GET', '/assets/app-3f9a.js', {
        headers: { 'accept-encoding': 'identity' },
      });
      expect(plain.text).toBe('console.log(1)');
    } finally {
      await server.drain();
    }
  });

  it('allows only the configured origins', async () => {
    const server = await startTestApi(platform.services);
    try {
      const allowed = await request(server.url, 'OPTIONS', '/api/v1/sessions', {
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
      const other = await request(server.url, 'GET', '/health/live', {
        headers: { origin: 'https://evil.example' },
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await server.drain();
    }
  });
});
