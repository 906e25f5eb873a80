import fastifyHelmet from '@fastify/helmet';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import { createTestPlatform, createTestUser, startTestApi, type TestPlatform } from '../support/platform.js';
import { request } from './client.js';

/**
 * What every request pays for, kept cheap without losing anything: the security headers come from
 * one precomputed list, probes and scrapes skip the rate limit, and request latency is still
 * recorded per route.
 */
describe('hooks on every request', () => {
  let platform: TestPlatform;
  let api: ApiServer;

  beforeAll(async () => {
    platform = await createTestPlatform({ mode: 'distributed', env: { RATE_LIMIT_PER_MINUTE: '3' } });
    api = await startTestApi(platform.services);
  });

  afterAll(async () => {
    await api?.drain();
    await platform?.cleanup();
  });

  it('sets the security headers on probes, API answers and 404s', async () => {
    const { token } = await createTestUser(platform.services, 'headers');
    for (const [path, status] of [
      ['/health/live', 200],
      ['/api/v1/sessions', 200],
      ['/api/v1/nowhere', 404],
    ] as const) {
      const response = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(status);
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('sets the same headers as @fastify/helmet would with the same options', async () => {
    const reference = Fastify({ logger: false });
    await reference.register(fastifyHelmet, { contentSecurityPolicy: false, strictTransportSecurity: false });
    reference.get('/', async () => '');
    const expected = (await reference.inject('/')).headers;
    await reference.close();
    const ours = await fetch(`${api.url}/health/live`);
    for (const name of [
      'cross-origin-opener-policy',
      'referrer-policy',
      'x-dns-prefetch-control',
      'origin-agent-cluster',
    ])
      expect(ours.headers.get(name)).toBe(expected[name]);
  });

  it('never rations probes and scrapes, and still records their latency', async () => {
    for (let i = 0; i < 6; i++) {
      expect((await fetch(`${api.url}/health/live`)).status).toBe(200);
      expect((await fetch(`${api.url}/metrics`)).status).toBe(200);
    }
    const { token } = await createTestUser(platform.services, 'rationed');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await request(api.url, 'GET', '/api/v1/sessions', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/health\/live"[^}]*\} [1-9]/);
  });
});
