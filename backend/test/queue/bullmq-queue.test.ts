import net from 'node:net';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createBullmqQueue, executionQueueName, waitListKey } from '../../src/queue/index.js';
import { freshRedisPrefix, redisUrl } from '../support/services.js';
import { job, queueContract } from './queue.contract.js';

const logger = pino({ level: 'silent' });
const admin = new Redis(redisUrl);
afterAll(() => admin.quit());

export async function deleteKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

/** ioredis's INFO as it goes over the wire. */
const infoCommand = '*1\r\n$4\r\ninfo\r\n';

/**
 * A proxy to the test Redis that lets each connection through its handshake (up to ioredis's
 * ready check, the first INFO) and then holds everything the client sends: BullMQ's own set-up
 * (its INFO for the version check, the second) never gets an answer. `held` counts the connections
 * that went silent.
 */
async function silentAfterHandshake() {
  const target = new URL(redisUrl);
  const sockets = new Set<net.Socket>();
  let held = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.pipe(client);
    let sent = '';
    let silent = false;
    client.on('data', (chunk: Buffer) => {
      if (silent) return;
      const before = sent.length;
      sent += chunk.toString('latin1');
      const first = sent.indexOf(infoCommand);
      const second = first < 0 ? -1 : sent.indexOf(infoCommand, first + infoCommand.length);
      if (second < 0) {
        upstream.write(chunk);
        return;
      }
      silent = true;
      held += 1;
      if (second > before) upstream.write(chunk.subarray(0, second - before));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    held: () => held,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

queueContract('BullMQ', async () => {
  const prefix = freshRedisPrefix();
  const stalledIntervalMs = 1000;
  const queue = createBullmqQueue({
    redisUrl,
    prefix,
    stalledIntervalMs,
    maxAttempts: 3,
    backoffMs: 100,
    abortSettleMs: 200,
    logger,
  });
  const dead: Worker[] = [];
  return {
    queue,
    backoffMs: 100,
    maxAttempts: 3,
    // A plain BullMQ worker that takes one job, never renews its lock and is then closed without
    // finishing it: to the queue it looks exactly like a worker that was SIGKILLed.
    async takeJobAndDie() {
      let took!: (id: string) => void;
      const taken = new Promise<string>((resolve) => {
        took = resolve;
      });
      const worker = new Worker(
        executionQueueName,
        async (j) => {
          took(j.id!);
          await new Promise(() => {});
        },
        {
          connection: { url: redisUrl, maxRetriesPerRequest: null },
          prefix,
          lockDuration: stalledIntervalMs,
          skipLockRenewal: true,
          skipStalledCheck: true,
        },
      );
      worker.on('error', () => {});
      dead.push(worker);
      const id = await taken;
      void worker.close(true);
      return id;
    },
    async cleanup() {
      await queue.close();
      await Promise.all(dead.map((w) => w.close(true)));
      await deleteKeys(prefix);
    },
  };
});

describe('BullMQ execution queue specifics', () => {
  it('keeps waiting executions in the list KEDA watches: <prefix>:executions:wait', async () => {
    const prefix = freshRedisPrefix();
    const queue = createBullmqQueue({ redisUrl, prefix, stalledIntervalMs: 1000, maxAttempts: 2, logger });
    try {
      await queue.enqueue(job());
      await queue.enqueue(job());
      expect(waitListKey(prefix)).toBe(`${prefix}:executions:wait`);
      expect(await admin.llen(waitListKey(prefix))).toBe(2);
    } finally {
      await queue.close();
      await deleteKeys(prefix);
    }
  });

  it('ping rejects within about 2 s when Redis does not answer', async () => {
    const queue = createBullmqQueue({
      redisUrl: 'redis://127.0.0.1:1',
      prefix: freshRedisPrefix(),
      stalledIntervalMs: 1000,
      maxAttempts: 2,
      logger,
    });
    try {
      const started = Date.now();
      await expect(queue.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2600);
    } finally {
      await queue.close();
    }
  });

  it('closes while BullMQ is still setting up its connections without an unhandled rejection', async () => {
    const proxy = await silentAfterHandshake();
    const lines: string[] = [];
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const queue = createBullmqQueue({
        redisUrl: proxy.url,
        prefix: freshRedisPrefix(),
        stalledIntervalMs: 1000,
        maxAttempts: 2,
        logger: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
      });
      const consumer = queue.consume(async () => {}, { concurrency: 1 });
      // The producer's, the consumer's and the consumer's blocking connection wait for BullMQ's INFO.
      await expect.poll(proxy.held, { timeout: 5000 }).toBe(3);
      await consumer.close(0);
      await queue.close();
      // A rejection nobody handles is reported once the microtasks have run.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
      // The unfinished set-ups were cut short while their failure was still heard.
      const reported = lines
        .map((line) => JSON.parse(line) as { msg: string; err?: string })
        .filter((entry) => entry.err === 'Connection is closed.')
        .map((entry) => entry.msg);
      expect(reported).toContain('queue producer error');
      expect(reported).toContain('queue consumer error');
    } finally {
      process.off('unhandledRejection', record);
      await proxy.close();
    }
  });

  it('refuses an invalid prefix or attempts setting', () => {
    expect(() =>
      createBullmqQueue({ redisUrl, prefix: 'a b', stalledIntervalMs: 1000, maxAttempts: 2, logger }),
    ).toThrow(/prefix/);
    expect(() =>
      createBullmqQueue({ redisUrl, prefix: 'ok', stalledIntervalMs: 1000, maxAttempts: 0, logger }),
    ).toThrow(/maxAttempts/);
  });
});
