import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { createBullmqQueue } from '../../src/queue/index.js';
import { freshRedisPrefix, redisUrl } from '../support/services.js';
import { job, waitFor } from './queue.contract.js';

const fixture = fileURLToPath(new URL('./fixtures/hanging-consumer.ts', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

it('runs the job of a SIGKILLed worker process on another worker after the stalled interval', async () => {
  const prefix = freshRedisPrefix();
  const stalledIntervalMs = 1000;
  const queue = createBullmqQueue({
    redisUrl,
    prefix,
    stalledIntervalMs,
    maxAttempts: 3,
    logger: pino({ level: 'silent' }),
  });
  const admin = new Redis(redisUrl);
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: prefix,
        STALLED_INTERVAL_MS: String(stalledIntervalMs),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const j = job();
    await queue.enqueue(j);
    await waitFor(() => output.includes(`started ${j.executionId} 1`), 20_000);
    child.kill('SIGKILL');
    const killedAt = Date.now();

    const seen: Array<[string, number]> = [];
    const consumer = queue.consume(
      async (received, context) => {
        seen.push([received.executionId, context.attempt]);
      },
      { concurrency: 1 },
    );
    await waitFor(() => seen.length > 0, 15_000);
    const recoveredAfter = Date.now() - killedAt;
    expect(seen).toEqual([[j.executionId, 2]]);
    // Lock expiry (one interval) plus at most two stalled checks.
    expect(recoveredAfter).toBeLessThan(3 * stalledIntervalMs + 1500);
    await waitFor(async () => (await queue.counts()).completed === 1);
    await consumer.close(1000);
  } finally {
    await queue.close();
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  }
}, 40_000);
