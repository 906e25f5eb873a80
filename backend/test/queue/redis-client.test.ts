import net from 'node:net';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { reconnectDelayMs } from '../../src/lib/backoff.js';
import { closeRedisClient, createRedisClient, pingRedis } from '../../src/queue/index.js';
import { quietWindow } from '../support/fixed-wait.js';
import { redisUrl } from '../support/services.js';
import { waitFor } from './queue.contract.js';

/** A TCP proxy in front of the test Redis that the test can take down and bring back. */
function redisProxy() {
  const target = new URL(redisUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      server ? server.close(() => resolve()) : resolve();
    });
  return { start, stop, url: () => `redis://127.0.0.1:${port}` };
}

const proxies: Array<ReturnType<typeof redisProxy>> = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

describe('createRedisClient', () => {
  it('refuses a malformed URL with a clear error', () => {
    expect(() => createRedisClient('not a url')).toThrow(/invalid Redis URL/);
    expect(() => createRedisClient('http://127.0.0.1:6379')).toThrow(/scheme/);
  });

  it('logs connection errors instead of throwing, and reconnects by itself when Redis is back', async () => {
    const proxy = redisProxy();
    proxies.push(proxy);
    await proxy.start();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const client = createRedisClient(proxy.url(), { logger, connectionName: 'test' });
    try {
      await pingRedis(client);
      await proxy.stop();
      const started = Date.now();
      await expect(pingRedis(client)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2600);
      await waitFor(() => lines.some((l) => l.includes('redis connection error')), 5000);
      await proxy.start();
      await waitFor(async () => {
        try {
          await pingRedis(client, 500);
          return true;
        } catch {
          return false;
        }
      }, 10_000);
      expect(await client.set('ipatest-reconnect', '1', 'EX', 5)).toBe('OK');
    } finally {
      await closeRedisClient(client);
    }
  });

  it('connects again when ioredis ends a connection its owner did not close', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    // A retry strategy that gives up makes ioredis end the client on the first dropped socket:
    // the same terminal state a disconnect during Sentinel resolution leaves behind.
    const client = createRedisClient(redisUrl, {
      logger,
      connectionName: 'revive-test',
      redis: { retryStrategy: () => null },
    });
    const admin = createRedisClient(redisUrl, { logger, connectionName: 'revive-admin' });
    try {
      await pingRedis(client);
      const ended = new Promise((resolve) => client.once('end', resolve));
      await admin.client('KILL', 'ID', String(await client.client('ID')));
      await ended;
      await expect.poll(() => client.status, { timeout: 5000 }).toBe('ready');
      expect(await client.set('ipatest-revive', '1', 'EX', 5)).toBe('OK');
      expect(lines.some((l) => l.includes('redis connection ended without being closed'))).toBe(true);
    } finally {
      await closeRedisClient(client);
      await closeRedisClient(admin);
    }
  });

  it('leaves a connection its owner closed closed', async () => {
    for (const close of [(c: Redis) => c.quit(), (c: Redis) => c.disconnect()]) {
      const client = createRedisClient(redisUrl, { connectionName: 'closed-test' });
      await pingRedis(client);
      const ended = new Promise((resolve) => client.once('end', resolve));
      await close(client);
      await ended;
      // No revival may follow: the window outlasts the delay before a revival's connect.
      await quietWindow(reconnectDelayMs(1) + 200);
      expect(client.status).toBe('end');
    }
  });
});
