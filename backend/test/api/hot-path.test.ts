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
    platform = await createTestPlatform({
      mode: 'distributed',
      env: { RATE_LIMIT_PER_MINUTE: '3', USER_CONCURRENCY: '10' },
    });
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

  it('reuses the live-worker list for a second of submissions, but never refuses on a reused one', async () => {
    const { services } = platform;
    const { token } = await createTestUser(services, 'languages');
    const beat = (workerId: string, isolation: 'process' | 'bwrap') => ({
      workerId,
      hostname: 'h',
      pid: 1,
      startedAt: new Date().toISOString(),
      at: new Date().toISOString(),
      isolation,
      languages: ['javascript', 'typescript', 'shell', 'python'] as (
        | 'javascript'
        | 'typescript'
        | 'shell'
        | 'python'
      )[],
      concurrency: 1,
      running: 0,
      draining: false,
      pool: {},
    });
    const run = (language: string) =>
      request(api.url, 'POST', '/api/v1/executions', { token, body: { language, code: '1' } });
    const original = services.workers.list;
    let lists = 0;
    services.workers.list = () => {
      lists++;
      return original.call(services.workers);
    };
    await services.workers.publish(beat('w-process', 'process'), 60_000);
    try {
      expect((await run('javascript')).status).toBe(202);
      expect((await run('javascript')).status).toBe(202);
      // The second submission reused the list (unless a second passed in between).
      expect(lists).toBeLessThanOrEqual(2);
      // A bwrap worker now runs python: the reused list (process level) would refuse it, so the
      // live workers are asked again and it is accepted.
      await services.workers.remove('w-process');
      await services.workers.publish(beat('w-bwrap', 'bwrap'), 60_000);
      const listsBefore = lists;
      expect((await run('python')).status).toBe(202);
      expect(lists).toBeGreaterThan(listsBefore);
    } finally {
      services.workers.list = original;
      await services.workers.remove('w-bwrap');
      await services.workers.remove('w-process');
    }
  });
});
