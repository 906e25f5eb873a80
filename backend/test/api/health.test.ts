import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import { createTestPlatform, createTestUser, startTestApi, type TestPlatform } from '../support/platform.js';
import { postgresAdminUrl, redisUrl } from '../support/services.js';
import { openSse, readUntilClosed } from './client.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

interface HealthSummary {
  status: string;
  role: string;
  checks: { database: string; redis: string };
}

async function ready(url: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`${url}/health/ready`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

/** Resolves once the API server has taken the request for `path`: it is then in flight. */
function requestArrives(server: ApiServer, path: string): Promise<void> {
  return new Promise((resolve) => {
    const onRequest = (request: http.IncomingMessage) => {
      if (request.url !== path) return;
      server.app.server.off('request', onRequest);
      resolve();
    };
    server.app.server.on('request', onRequest);
  });
}

/** Polls readiness until it answers `status`; returns how long that took. */
async function waitForReady(url: string, status: number, withinMs: number): Promise<number> {
  const started = Date.now();
  return vi.waitFor(
    async () => {
      const answer = await ready(url);
      if (answer.status === status) return Date.now() - started;
      throw new Error(`readiness still ${answer.status} ${JSON.stringify(answer.body)} after ${withinMs} ms`);
    },
    { timeout: withinMs, interval: 200 },
  );
}

describe('readiness follows the backing services (through a proxy the test cuts)', () => {
  let redisProxy: TcpProxy;
  let postgresProxy: TcpProxy;
  let platform: TestPlatform;
  let server: ApiServer;

  beforeAll(async () => {
    const redis = new URL(redisUrl);
    const postgres = new URL(postgresAdminUrl);
    redisProxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
    postgresProxy = await startTcpProxy(postgres.hostname, Number(postgres.port || 5432));
    const proxiedRedis = new URL(redisUrl);
    proxiedRedis.hostname = '127.0.0.1';
    proxiedRedis.port = String(redisProxy.port);
    platform = await createTestPlatform({
      mode: 'distributed',
      redisUrl: proxiedRedis.toString(),
      databaseUrl: (url) => {
        const proxied = new URL(url);
        proxied.hostname = '127.0.0.1';
        proxied.port = String(postgresProxy.port);
        return proxied.toString();
      },
    });
    server = await startTestApi(platform.services);
  });

  afterAll(async () => {
    redisProxy?.restore();
    postgresProxy?.restore();
    await server?.drain();
    await platform?.cleanup();
    await redisProxy?.close();
    await postgresProxy?.close();
  });

  it('is ready, and /health shows both checks ok', async () => {
    expect(await ready(server.url)).toEqual({ status: 200, body: { status: 'ready' } });
    const health = (await (await fetch(`${server.url}/health`)).json()) as HealthSummary;
    expect(health).toMatchObject({ status: 'ok', role: 'api', checks: { database: 'ok', redis: 'ok' } });
  });

  it('turns 503 within 5 s when Redis refuses connections, and 200 again when it is back', async () => {
    redisProxy.cut();
    try {
      const downAfter = await waitForReady(server.url, 503, 5000);
      expect(downAfter).toBeLessThan(5000);
      const answer = await ready(server.url);
      expect(answer.body.status).toBe('not_ready');
      expect(answer.body.reason).toMatch(/redis/i);
      expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
      const health = (await (await fetch(`${server.url}/health`)).json()) as HealthSummary;
      expect(health.status).toBe('degraded');
      expect(health.checks.database).toBe('ok');
    } finally {
      redisProxy.restore();
    }
    await waitForReady(server.url, 200, 10_000);
  });

  it('turns 503 within 5 s when Redis stops answering (hung), and recovers', async () => {
    redisProxy.blackhole();
    try {
      expect(await waitForReady(server.url, 503, 5000)).toBeLessThan(5000);
    } finally {
      redisProxy.restore();
    }
    await waitForReady(server.url, 200, 10_000);
  });

  it('turns 503 within 5 s when PostgreSQL is unreachable, and recovers', async () => {
    postgresProxy.blackhole();
    try {
      expect(await waitForReady(server.url, 503, 5000)).toBeLessThan(5000);
      expect((await ready(server.url)).body.reason).toMatch(/database|postgres/i);
    } finally {
      postgresProxy.restore();
    }
    await waitForReady(server.url, 200, 10_000);
  });

  it('while Redis is down: reads that need only the database work, submissions answer 503 at once', async () => {
    const user = await createTestUser(platform.services, 'during-outage');
    const auth = { authorization: `Bearer ${user.token}` };
    redisProxy.cut();
    try {
      await waitForReady(server.url, 503, 5000);
      const started = Date.now();
      const sessions = await fetch(`${server.url}/api/v1/sessions`, { headers: auth });
      expect(sessions.status).toBe(200);
      const submitted = await fetch(`${server.url}/api/v1/executions`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ language: 'javascript', code: '1' }),
      });
      expect(submitted.status).toBe(503);
      expect(((await submitted.json()) as { error: { code: string } }).error.code).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(3000);
      // Nothing was left queued without a job behind it.
      const executions = await platform.services.store.executions.list(user.user.id);
      expect(executions.items.filter((e) => e.status === 'queued')).toEqual([]);
    } finally {
      redisProxy.restore();
    }
    await waitForReady(server.url, 200, 10_000);
  });

  it('while PostgreSQL refuses connections: requests that need it answer 503 unavailable, not 500', async () => {
    const user = await createTestUser(platform.services, 'during-db-outage');
    postgresProxy.cut();
    try {
      await waitForReady(server.url, 503, 5000);
      const started = Date.now();
      const sessions = await fetch(`${server.url}/api/v1/sessions`, {
        headers: { authorization: `Bearer ${user.token}` },
      });
      expect(sessions.status).toBe(503);
      expect(((await sessions.json()) as { error: { code: string } }).error.code).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      postgresProxy.restore();
    }
    await waitForReady(server.url, 200, 10_000);
  });
});

describe('draining (the SIGTERM path)', () => {
  let platform: TestPlatform;

  beforeAll(async () => {
    platform = await createTestPlatform({ env: { SHUTDOWN_GRACE_SECONDS: '2' } });
  });

  afterAll(async () => {
    await platform?.cleanup();
  });

  it('turns not-ready, ends event streams with retry:, finishes in-flight requests, then closes', async () => {
    const server = await startTestApi(platform.services);
    const user = await createTestUser(platform.services, 'drainer');
    const auth = { authorization: `Bearer ${user.token}` };
    const execution = await platform.services.store.executions.create({
      userId: user.user.id,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    });
    const firstId = await platform.services.events.append(execution.id, 'execution.queued', {
      executionId: execution.id,
      kind: 'script',
    });
    const stream = await openSse(`${server.url}/api/v1/executions/${execution.id}/events`, auth);
    await stream.next();
    expect((await stream.next())?.id).toBe(firstId);

    // A readiness check in flight when draining starts answers 503 draining: its database ping
    // is held until draining has begun.
    const db = platform.services.store.db;
    const ping = db.ping.bind(db);
    let pingReached!: () => void;
    const pinging = new Promise<void>((resolve) => {
      pingReached = resolve;
    });
    let releasePing!: () => void;
    const pingReleased = new Promise<void>((resolve) => {
      releasePing = resolve;
    });
    db.ping = async () => {
      pingReached();
      await pingReleased;
      return ping();
    };
    const readiness = ready(server.url);
    // An upload in flight when draining starts: half the body now, the rest once draining has begun.
    const body = Buffer.alloc(2000, 7);
    const uploadArrived = requestArrives(server, '/api/v1/files/uploads/late.bin');
    let sendRest!: () => void;
    const upload = new Promise<number>((resolve, reject) => {
      const request = http.request(`${server.url}/api/v1/files/uploads/late.bin`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': body.length },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.write(body.subarray(0, 1000));
      sendRest = () => request.end(body.subarray(1000));
    });
    await Promise.all([pinging, uploadArrived]);

    const drained = server.drain();
    const tail = await readUntilClosed(stream, 2000);
    expect(tail).toEqual([]);
    releasePing();
    sendRest();
    expect(await readiness).toEqual({ status: 503, body: { status: 'not_ready', reason: 'draining' } });
    expect(await upload).toBe(201);
    await drained;
    db.ping = ping;
    expect((await platform.services.store.files.get(user.user.id, 'uploads/late.bin'))?.size).toBe(2000);
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  });

  it('sends the retry: hint to event streams when draining', async () => {
    const server = await startTestApi(platform.services);
    const user = await createTestUser(platform.services, 'drainer-2');
    const execution = await platform.services.store.executions.create({
      userId: user.user.id,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    });
    const stream = await openSse(`${server.url}/api/v1/executions/${execution.id}/events`, {
      authorization: `Bearer ${user.token}`,
    });
    await stream.next();
    const drained = server.drain();
    expect(await stream.next(2000)).toEqual({ retry: 1000 });
    expect(await stream.next(2000)).toBeNull();
    await drained;
  });

  it('closes idle connections at once, also those that never sent a request', async () => {
    const server = await startTestApi(platform.services);
    const { port } = new URL(server.url);
    // A browser's or balancer's pre-opened connection: connected, nothing sent yet.
    const silent = net.connect(Number(port), '127.0.0.1');
    await once(silent, 'connect');
    const silentClosed = once(silent, 'close');
    // A keep-alive connection between two requests.
    const agent = new http.Agent({ keepAlive: true });
    const answered = await new Promise<number | undefined>((resolve, reject) =>
      http
        .get(`${server.url}/health/live`, { agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode));
        })
        .on('error', reject),
    );
    expect(answered).toBe(200);
    const started = Date.now();
    await server.drain();
    // Well under the 2 s grace period: nothing was in flight.
    expect(Date.now() - started).toBeLessThan(1000);
    await silentClosed;
    agent.destroy();
  });

  it('answers a request that arrives on a pre-opened connection as the drain begins', async () => {
    const server = await startTestApi(platform.services);
    const { port } = new URL(server.url);
    const accepted = once(server.app.server, 'connection');
    const preOpened = net.connect(Number(port), '127.0.0.1');
    await Promise.all([once(preOpened, 'connect'), accepted]);
    let answer = '';
    preOpened.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
    });
    const closed = once(preOpened, 'close');
    const drained = server.drain();
    // In the server's kernel buffer before the server reads anything after the drain began.
    preOpened.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await closed;
    await drained;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('cuts requests that outlive the grace period', async () => {
    const server = await startTestApi(platform.services);
    const user = await createTestUser(platform.services, 'stalled');
    const arrived = requestArrives(server, '/api/v1/files/uploads/never.bin');
    const stalled = new Promise<string>((resolve) => {
      const request = http.request(`${server.url}/api/v1/files/uploads/never.bin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${user.token}`, 'content-length': 1000 },
      });
      request.on('response', (response) => resolve(`answered ${response.statusCode}`));
      request.on('error', (err) => resolve(`cut: ${err.message}`));
      request.write(Buffer.alloc(10));
    });
    await arrived;
    const started = Date.now();
    await server.drain();
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(1900);
    expect(tookMs).toBeLessThan(4000);
    expect(await stalled).toMatch(/^cut/);
  });
});
