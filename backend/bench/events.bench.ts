/**
 * Event path: append → blocked reader woken, through our EventLog, beside raw XADD / XREAD BLOCK
 * on a dedicated connection measured in the same run. Run: `npx tsx backend/bench/events.bench.ts`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createInProcessEventLog, createRedisEventLog, type EventLog } from '../src/events/index.js';
import { type BenchRow, type BenchTable, isMain, ms, percentile, runAlone, sleep } from './lib.js';

const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const samples = Number(process.env.BENCH_EVENT_SAMPLES ?? 2000);
const idleReaders = Number(process.env.BENCH_IDLE_READERS ?? 10_000);

/** One reader blocked on the stream, one append, time until the reader has the event. */
async function eventLogLatency(log: EventLog, n: number): Promise<number[]> {
  const execution = randomUUID();
  let after = await log.append(execution, 'execution.queued', {});
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const reading = log.read(execution, after, { blockMs: 5000 });
    await sleep(1); // the reader is blocked before the append
    const started = performance.now();
    const [id] = await Promise.all([log.append(execution, 'text.delta', { text: 'x', i }), reading]);
    const events = await reading;
    latencies.push(performance.now() - started);
    if (events[0]?.id !== id) throw new Error('reader got the wrong event');
    after = id;
  }
  return latencies;
}

/** The same over bare ioredis: XREAD BLOCK on a dedicated connection, XADD on another. */
async function rawLatency(n: number): Promise<number[]> {
  const reader = new Redis(redisUrl);
  const writer = new Redis(redisUrl);
  const key = `benchraw${randomBytes(4).toString('hex')}`;
  try {
    let after = await writer.xadd(key, '*', 't', 'execution.queued', 'd', '{}');
    const latencies: number[] = [];
    for (let i = 0; i < n; i++) {
      const reading = reader.call('XREAD', 'BLOCK', 5000, 'STREAMS', key, after!) as Promise<
        Array<[string, Array<[string, string[]]>]>
      >;
      await sleep(1);
      const started = performance.now();
      const id = await writer.xadd(key, '*', 't', 'text.delta', 'd', JSON.stringify({ text: 'x', i }));
      const reply = await reading;
      latencies.push(performance.now() - started);
      if (reply[0]?.[1][0]?.[0] !== id) throw new Error('raw reader got the wrong entry');
      after = id;
    }
    return latencies;
  } finally {
    await writer.del(key);
    reader.disconnect();
    writer.disconnect();
  }
}

/** Many readers blocked on one stream: time from the append until each of them has it. */
async function fanOut(log: EventLog, readers: number, rounds: number): Promise<number[]> {
  const execution = randomUUID();
  let after = await log.append(execution, 'execution.queued', {});
  const latencies: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let started = 0;
    const woken = Array.from({ length: readers }, () =>
      log.read(execution, after, { blockMs: 10_000 }).then(() => performance.now() - started),
    );
    await sleep(50);
    started = performance.now();
    after = await log.append(execution, 'text.delta', { r });
    latencies.push(...(await Promise.all(woken)));
  }
  return latencies;
}

/** Connections Redis reports (other processes on the machine may add noise). */
async function connectedClients(): Promise<number> {
  const admin = new Redis(redisUrl);
  try {
    return Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]) - 1;
  } finally {
    admin.disconnect();
  }
}

async function cleanup(prefix: string): Promise<void> {
  const admin = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
  await admin.quit();
}

export async function run(): Promise<BenchTable> {
  const rows: BenchRow[] = [];
  const logger = pino({ level: 'warn' });
  const prefix = `ipabench${randomBytes(4).toString('hex')}`;
  const redisLog = createRedisEventLog({ redisUrl, prefix, logger });
  const inProcess = createInProcessEventLog();
  try {
    // Warm up connections and JIT.
    await eventLogLatency(redisLog, 100);
    await rawLatency(100);
    const raw = await rawLatency(samples);
    const ours = await eventLogLatency(redisLog, samples);
    rows.push(
      {
        metric: 'Redis append → blocked reader p50',
        ours: ms(percentile(ours, 50)),
        baseline: ms(percentile(raw, 50)),
        goal: '—',
      },
      {
        metric: 'Redis append → blocked reader p99',
        ours: ms(percentile(ours, 99)),
        baseline: ms(percentile(raw, 99)),
        goal: '< 10 ms',
      },
    );

    // The same with thousands of other SSE clients blocked on other executions in this process.
    const clientsBefore = await connectedClients();
    const idle = Array.from({ length: idleReaders }, () =>
      redisLog.read(randomUUID(), undefined, { blockMs: 600_000 }),
    );
    await sleep(1500);
    const addedConnections = (await connectedClients()) - clientsBefore;
    const crowded = await eventLogLatency(redisLog, Math.min(samples, 1000));
    rows.push(
      {
        metric: `Redis append → reader p50, ${idleReaders.toLocaleString('en-US')} other readers blocked`,
        ours: ms(percentile(crowded, 50)),
        baseline: ms(percentile(raw, 50)),
        goal: '—',
      },
      {
        metric: `Redis append → reader p99, ${idleReaders.toLocaleString('en-US')} other readers blocked`,
        ours: ms(percentile(crowded, 99)),
        baseline: ms(percentile(raw, 99)),
        goal: '< 10 ms',
      },
      {
        metric: `Redis connections opened for ${idleReaders.toLocaleString('en-US')} blocked readers`,
        ours: `+${addedConnections} (log total: 1 command + 1 blocking)`,
        baseline: `${idleReaders.toLocaleString('en-US')} (one per blocked XREAD)`,
        goal: 'a handful',
      },
    );
    await redisLog.close();
    await Promise.all(idle);

    const fanLog = createRedisEventLog({ redisUrl, prefix, logger });
    await fanOut(fanLog, 1000, 2); // warm-up: connections and the blocked-reader loop
    const fan = await fanOut(fanLog, 1000, 10);
    await fanLog.close();
    rows.push({
      metric: '1,000 readers of one stream woken by one append, p99',
      ours: ms(percentile(fan, 99)),
      baseline: '—',
      goal: '< 10 ms',
    });

    await eventLogLatency(inProcess, 100);
    const local = await eventLogLatency(inProcess, samples);
    rows.push(
      {
        metric: 'in-process append → blocked reader p50',
        ours: ms(percentile(local, 50)),
        baseline: '—',
        goal: '—',
      },
      {
        metric: 'in-process append → blocked reader p99',
        ours: ms(percentile(local, 99)),
        baseline: '—',
        goal: '< 1 ms',
      },
    );
  } finally {
    await redisLog.close();
    await inProcess.close();
    await cleanup(prefix);
  }
  return { title: 'Event path (EventLog append → blocked reader)', rows };
}

if (isMain(import.meta.url)) await runAlone(run);
