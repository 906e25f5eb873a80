/**
 * Execution queue: a bare BullMQ no-op job round trip (Queue.add → Worker processes → completed
 * event) beside our ExecutionQueue (enqueue → handler has returned) on the same Redis in the same
 * run. Ours stops the clock when the handler returns, just before BullMQ records completion: the
 * one Redis round trip that follows is in the bare figure only. Run: `npx tsx backend/bench/queue.bench.ts`. `measureBareBullmq` is exported for the
 * end-to-end benchmark, which compares against the same baseline.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createBullmqQueue, createInProcessQueue, type ExecutionQueue } from '../src/queue/index.js';
import { type BenchRow, type BenchTable, isMain, ms, percentile, perSecond, runAlone, sleep } from './lib.js';

const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const latencySamples = Number(process.env.BENCH_QUEUE_SAMPLES ?? 300);
const throughputJobs = Number(process.env.BENCH_QUEUE_JOBS ?? 2000);
const concurrency = Number(process.env.BENCH_QUEUE_CONCURRENCY ?? 8);

export interface QueueFigures {
  /** One job at a time: submit → completed, in ms. */
  latencies: number[];
  /** Completed no-op jobs per second with `concurrency` in one consumer, jobs submitted in a burst. */
  throughput: number;
}

async function deleteKeys(prefix: string): Promise<void> {
  const admin = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
  await admin.quit();
}

/** Bare BullMQ: `Queue.add` → a `Worker` runs a no-op → the worker's `completed` event. */
export async function measureBareBullmq(options: {
  redisUrl: string;
  samples: number;
  jobs: number;
  concurrency: number;
}): Promise<QueueFigures> {
  const prefix = `ipabench${randomBytes(4).toString('hex')}`;
  const connection = { url: options.redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue('bare', { connection, prefix });
  const worker = new Worker('bare', async () => {}, {
    connection,
    prefix,
    concurrency: options.concurrency,
  });
  const waiting = new Map<string, () => void>();
  worker.on('completed', (job) => waiting.get(job.id!)?.());
  const removeOptions = { removeOnComplete: 1000, removeOnFail: 1000 };
  try {
    await worker.waitUntilReady();
    const latencies: number[] = [];
    for (let i = 0; i < options.samples + 20; i++) {
      const id = `lat-${i}`;
      const done = new Promise<void>((resolve) => waiting.set(id, resolve));
      const started = performance.now();
      await queue.add('noop', { i }, { jobId: id, ...removeOptions });
      await done;
      if (i >= 20) latencies.push(performance.now() - started); // first 20 warm up
      waiting.delete(id);
    }
    let completed = 0;
    const allDone = new Promise<void>((resolve) => {
      worker.on('completed', () => {
        completed += 1;
        if (completed === options.jobs) resolve();
      });
    });
    const started = performance.now();
    // One add per job, all in flight at once: how the API enqueues (no addBulk on either side).
    await Promise.all(
      Array.from({ length: options.jobs }, (_, i) =>
        queue.add('noop', { i }, { jobId: `tp-${i}`, ...removeOptions }),
      ),
    );
    await allDone;
    return { latencies, throughput: options.jobs / ((performance.now() - started) / 1000) };
  } finally {
    await worker.close();
    await queue.close();
    await deleteKeys(prefix);
  }
}

/** Our queue: `enqueue` → the handler runs a no-op → the job counts as completed. */
export async function measureExecutionQueue(
  queue: ExecutionQueue,
  options: { samples: number; jobs: number; concurrency: number },
): Promise<QueueFigures> {
  const waiting = new Map<string, () => void>();
  const consumer = queue.consume(
    async (job) => {
      // Resolve after the handler returns, i.e. once the queue records the job completed.
      const done = waiting.get(job.executionId);
      if (done) setImmediate(done);
    },
    { concurrency: options.concurrency },
  );
  const run = randomBytes(3).toString('hex');
  try {
    const latencies: number[] = [];
    for (let i = 0; i < options.samples + 20; i++) {
      const executionId = `lat-${run}-${i}`;
      const done = new Promise<void>((resolve) => waiting.set(executionId, resolve));
      const started = performance.now();
      await queue.enqueue({ executionId, userId: 'bench', kind: 'script' });
      await done;
      if (i >= 20) latencies.push(performance.now() - started);
      waiting.delete(executionId);
    }
    let completed = 0;
    const allDone = new Promise<void>((resolve) => {
      for (let i = 0; i < options.jobs; i++) {
        waiting.set(`tp-${run}-${i}`, () => {
          completed += 1;
          if (completed === options.jobs) resolve();
        });
      }
    });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.jobs }, (_, i) =>
        queue.enqueue({ executionId: `tp-${run}-${i}`, userId: 'bench', kind: 'script' }),
      ),
    );
    await allDone;
    return { latencies, throughput: options.jobs / ((performance.now() - started) / 1000) };
  } finally {
    await consumer.close(1000);
  }
}

export async function run(): Promise<BenchTable> {
  const sizes = { samples: latencySamples, jobs: throughputJobs, concurrency };
  const bare = await measureBareBullmq({ redisUrl, ...sizes });
  const prefix = `ipabench${randomBytes(4).toString('hex')}`;
  const bullmq = createBullmqQueue({
    redisUrl,
    prefix,
    stalledIntervalMs: 15_000,
    maxAttempts: 3,
    logger: pino({ level: 'warn' }),
    keepCompleted: 1000,
  });
  let ours: QueueFigures;
  try {
    await sleep(100);
    ours = await measureExecutionQueue(bullmq, sizes);
  } finally {
    await bullmq.close();
    await deleteKeys(prefix);
  }
  const inProcessQueue = createInProcessQueue({ maxAttempts: 3 });
  const local = await measureExecutionQueue(inProcessQueue, sizes);
  await inProcessQueue.close();

  const share = `${Math.round((100 * ours.throughput) / bare.throughput)} % of bare`;
  const rows: BenchRow[] = [
    {
      metric: 'no-op job round trip p50 (BullMQ / Redis)',
      ours: ms(percentile(ours.latencies, 50)),
      baseline: ms(percentile(bare.latencies, 50)),
      goal: '—',
    },
    {
      metric: 'no-op job round trip p99 (BullMQ / Redis)',
      ours: ms(percentile(ours.latencies, 99)),
      baseline: ms(percentile(bare.latencies, 99)),
      goal: '—',
    },
    {
      metric: `no-op jobs/s, ${throughputJobs} in a burst, concurrency ${concurrency}`,
      ours: `${perSecond(ours.throughput)} (${share})`,
      baseline: perSecond(bare.throughput),
      goal: '≥ 30 % of bare (e2e goal)',
    },
    {
      metric: 'in-process queue round trip p50 / p99',
      ours: `${ms(percentile(local.latencies, 50))} / ${ms(percentile(local.latencies, 99))}`,
      baseline: '—',
      goal: '—',
    },
    {
      metric: `in-process queue no-op jobs/s, concurrency ${concurrency}`,
      ours: perSecond(local.throughput),
      baseline: '—',
      goal: '—',
    },
  ];
  return { title: 'Execution queue (no-op job round trip)', rows };
}

if (isMain(import.meta.url)) await runAlone(run);
