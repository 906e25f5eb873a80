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

  it('refuses an invalid prefix or attempts setting', () => {
    expect(() =>
      createBullmqQueue({ redisUrl, prefix: 'a b', stalledIntervalMs: 1000, maxAttempts: 2, logger }),
    ).toThrow(/prefix/);
    expect(() =>
      createBullmqQueue({ redisUrl, prefix: 'ok', stalledIntervalMs: 1000, maxAttempts: 0, logger }),
    ).toThrow(/maxAttempts/);
  });
});
