/**
 * Executions end to end: a no-op script from `POST /executions` to its terminal event on SSE,
 * through an `ipa api` process, BullMQ, `ipa worker` processes, warm sandboxes and Redis Streams
 * (as deployed: one process each, the built CLI when `backend/dist` exists), beside a bare
 * BullMQ no-op job round trip on the same Redis in the same run; throughput with 1 and 2 worker
 * runtimes; and the time to the first `text.delta` of an agent turn through the fake model
 * server beside that server's own time to first byte.
 * Run: `npx tsx backend/bench/executions.bench.ts` (needs PostgreSQL and Redis, as the tests do).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { migrate, openDatabase } from '../src/store/index.js';
import type { Execution } from '../src/store/types.js';
import { ApiClient, terminalOf } from '../test/e2e/support/platform.js';
import { type PlatformProcess, spawnApi, spawnWorker } from '../test/e2e/support/worker-process.js';
import { type FakeModelServer, startFakeModelServer } from '../test/support/fake-model/index.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../test/support/services.js';
import { countCpu, type ProcessGroups, processesMatching, withDescendants } from './cpu.js';
import { type BenchRow, type BenchTable, isMain, ms, percentile, perSecond, runAlone } from './lib.js';

const latencySamples = Number(process.env.BENCH_EXECUTION_SAMPLES ?? 200);
const throughputSeconds = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 8);
const users = Number(process.env.BENCH_USERS ?? 8);
const clientsPerUser = 2;
const agentSamples = Number(process.env.BENCH_AGENT_SAMPLES ?? 30);
const noop = { language: 'javascript', code: 'return 0' };

async function runNoop(client: ApiClient): Promise<number> {
  const started = performance.now();
  const execution = await client.ok<Execution>('POST', '/executions', noop);
  const events = await client.events(execution.id);
  const end = terminalOf(events);
  if (end?.type !== 'execution.completed') throw new Error(`no-op execution ended ${JSON.stringify(end)}`);
  return performance.now() - started;
}

/** Completed executions per second with `clients` clients each running no-ops back to back. */
async function throughput(clients: ApiClient[], seconds: number): Promise<{ rate: number; done: number }> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < until) {
        await runNoop(client);
        done++;
      }
    }),
  );
  return { rate: done / ((performance.now() - started) / 1000), done };
}

/**
 * Where an execution's CPU goes (the machine is saturated, so throughput is CPU time per
 * execution): the API, the worker runtime, its sandboxes, PostgreSQL (this database's backends
 * and the server's own processes: WAL writer, checkpointer, background writer), Redis and this
 * process, which is the load generator (HTTP and SSE clients). The server's processes and Redis
 * serve whatever else runs on the machine too: the figures are for a quiet one.
 */
function platformCpuGroups(pids: { api: number; worker: number }, database: string): ProcessGroups {
  return {
    API: () => [pids.api],
    'worker runtime': () => [pids.worker],
    sandboxes: () => withDescendants(pids.worker).slice(1),
    PostgreSQL: () => [
      ...processesMatching(new RegExp(`^postgres: .* ${database} `)),
      ...processesMatching(/^postgres: \S+: (walwriter|checkpointer|background writer)/),
    ],
    Redis: () => processesMatching(/^redis-server/),
    'load generator (this process)': () => [process.pid],
  };
}

/** Bare BullMQ: add a no-op job and wait for its completion event; and jobs/s with N workers. */
async function bareBullmq(): Promise<{
  latencies: number[];
  perSecond: Record<number, number>;
  /** CPU per job with one worker: Redis and this process (queue, worker and clients). */
  cpuPerJobMs: number;
}> {
  const connection = { url: redisUrl };
  const prefix = `ipabenchbare${randomBytes(4).toString('hex')}`;
  const queue = new Queue('bare', { connection, prefix });
  const events = new QueueEvents('bare', { connection, prefix });
  await events.waitUntilReady();
  // Every waiting client holds listeners on these two; the defaults of 10 would only warn.
  queue.setMaxListeners(0);
  events.setMaxListeners(0);
  const workers: Worker[] = [];
  const addWorker = async () => {
    const worker = new Worker('bare', async () => 0, { connection, prefix, concurrency: 4 });
    await worker.waitUntilReady();
    workers.push(worker);
  };
  try {
    await addWorker();
    const roundTrip = async () => {
      const started = performance.now();
      const job = await queue.add('noop', {}, { removeOnComplete: 1000, removeOnFail: 1000 });
      await job.waitUntilFinished(events, 10_000);
      return performance.now() - started;
    };
    for (let i = 0; i < 50; i++) await roundTrip();
    const latencies: number[] = [];
    for (let i = 0; i < latencySamples; i++) latencies.push(await roundTrip());

    const rate: Record<number, number> = {};
    let cpuPerJobMs = Number.NaN;
    for (const workerCount of [1, 2]) {
      while (workers.length < workerCount) await addWorker();
      const until = performance.now() + throughputSeconds * 1000;
      let done = 0;
      const started = performance.now();
      const counting = countCpu({
        all: () => [process.pid, ...processesMatching(/^redis-server/)],
      });
      await Promise.all(
        Array.from({ length: users * clientsPerUser }, async () => {
          while (performance.now() < until) {
            await roundTrip();
            done++;
          }
        }),
      );
      rate[workerCount] = done / ((performance.now() - started) / 1000);
      if (workerCount === 1) cpuPerJobMs = (counting.stop().all ?? Number.NaN) / done;
    }
    return { latencies, perSecond: rate, cpuPerJobMs };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** API and workers as separate processes on a fresh database and Redis prefix. */
async function startProcesses(fake: FakeModelServer) {
  const database = await freshPostgresDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ipa-bench-'));
  await fs.chmod(dataDir, 0o755);
  const adminToken = `ipa_bench_admin_${randomBytes(16).toString('hex')}`;
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: freshRedisPrefix(),
    IPA_ADMIN_TOKEN: adminToken,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    USER_CONCURRENCY: '100',
    ANTHROPIC_API_KEY: 'sk-ant-bench',
    ANTHROPIC_BASE_URL: `${fake.url}/v1`,
    // DATABASE_PREPARED_STATEMENTS=false in the bench's environment measures the store without them.
    DATABASE_PREPARED_STATEMENTS: process.env.DATABASE_PREPARED_STATEMENTS ?? 'true',
  };
  const processes: PlatformProcess[] = [];
  const close = async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(
      processes.map((p) =>
        Promise.race([
          p.exited,
          new Promise((r) => setTimeout(r, 10_000)).then(() => p.child.kill('SIGKILL')),
        ]),
      ),
    );
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  const addWorker = async () => {
    processes.push(
      await spawnWorker({ ...env, SANDBOX_ROOT: path.join(dataDir, `sandbox-${processes.length}`) }),
    );
  };
  try {
    const db = await openDatabase({ kind: 'postgres', url: database.url });
    await migrate(db);
    await db.close();
    const api = await spawnApi(env, await freePort());
    processes.push(api);
    await addWorker();
    const pids = () => ({ api: api.child.pid as number, worker: processes[1]?.child.pid as number });
    const name = new URL(database.url).pathname.slice(1);
    return { url: api.url, adminToken, addWorker, close, pids, database: name };
  } catch (error) {
    // A process that did not start leaves nothing behind either: its database and directory go.
    await close();
    throw error;
  }
}

/** Time from sending a request to the fake provider to its first response byte. */
async function providerFirstByte(fake: FakeModelServer): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'bench' },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  const reader = response.body?.getReader();
  await reader?.read();
  const elapsed = performance.now() - started;
  await reader?.cancel();
  return elapsed;
}

export async function run(): Promise<BenchTable> {
  const rows: BenchRow[] = [];
  const fake = await startFakeModelServer(() => ({
    blocks: [{ type: 'text', text: 'Hello from the bench.' }],
  }));
  let platform: Awaited<ReturnType<typeof startProcesses>> | undefined;
  try {
    platform = await startProcesses(fake);
    const admin = new ApiClient(platform.url, platform.adminToken);
    const clients: ApiClient[] = [];
    for (let i = 0; i < users; i++) {
      const user = await admin.createUser(`bench-${i}`);
      for (let c = 0; c < clientsPerUser; c++) clients.push(user);
    }
    const first = clients[0] as ApiClient;

    // Warm: every user's sandbox started, connections and JIT warm.
    for (const client of clients) await runNoop(client);
    for (let i = 0; i < 30; i++) await runNoop(first);

    const latencies: number[] = [];
    for (let i = 0; i < latencySamples; i++) latencies.push(await runNoop(first));
    const counting = countCpu(platformCpuGroups(platform.pids(), platform.database));
    const { rate: oneWorker, done } = await throughput(clients, throughputSeconds);
    const cpu = counting.stop();
    await platform.addWorker();
    for (const client of clients) await runNoop(client);
    const { rate: twoWorkers } = await throughput(clients, throughputSeconds);

    const bare = await bareBullmq();
    rows.push(
      {
        metric: 'no-op script, POST → terminal SSE event, p50 (warm sandbox)',
        ours: ms(percentile(latencies, 50)),
        baseline: `${ms(percentile(bare.latencies, 50))} (bare BullMQ job round trip)`,
        goal: '< 25 ms',
      },
      {
        metric: 'no-op script, POST → terminal SSE event, p99 (warm sandbox)',
        ours: ms(percentile(latencies, 99)),
        baseline: `${ms(percentile(bare.latencies, 99))} (bare BullMQ job round trip)`,
        goal: '< 100 ms',
      },
      {
        metric: `throughput, 1 worker process (${clients.length} clients, ${users} users)`,
        ours: perSecond(oneWorker),
        baseline: `${perSecond(bare.perSecond[1] ?? Number.NaN)} (bare BullMQ, 1 worker)`,
        goal: `≥ 30 % of bare (${Math.round((100 * oneWorker) / (bare.perSecond[1] ?? Number.NaN))} %)`,
      },
      {
        metric: `throughput, 2 worker processes (${clients.length} clients, ${users} users)`,
        ours: perSecond(twoWorkers),
        baseline: `${perSecond(bare.perSecond[2] ?? Number.NaN)} (bare BullMQ, 2 workers)`,
        goal: `≥ 30 % of bare (${Math.round((100 * twoWorkers) / (bare.perSecond[2] ?? Number.NaN))} %)`,
      },
      {
        metric: 'CPU per execution, 1 worker process, all processes',
        ours: ms(Object.values(cpu).reduce((a, b) => a + b, 0) / done),
        baseline: `${ms(bare.cpuPerJobMs)} (bare BullMQ job: Redis and its one process)`,
        goal: '—',
      },
      ...Object.entries(cpu).map(([group, spent]) => ({
        metric: `… of which ${group}`,
        ours: ms(spent / done),
        baseline: '—',
        goal: '—',
      })),
    );

    // Agent turn: POST the user message → first text.delta on SSE, beside the provider's own TTFB.
    const session = await first.ok<{ id: string }>('POST', '/sessions', { title: 'bench' });
    const firstDelta: number[] = [];
    const providerTtfb: number[] = [];
    for (let i = 0; i < 5; i++) await providerFirstByte(fake);
    for (let i = 0; i < agentSamples + 3; i++) {
      const started = performance.now();
      let deltaAt = 0;
      const { execution } = await first.ok<{ execution: Execution }>(
        'POST',
        `/sessions/${session.id}/messages`,
        {
          text: `question ${i}`,
        },
      );
      await first.events(execution.id, {
        onEvent: (event) => {
          if (event.type === 'text.delta' && deltaAt === 0) deltaAt = event.receivedAt;
        },
      });
      if (i >= 3) firstDelta.push(deltaAt - started);
      providerTtfb.push(await providerFirstByte(fake));
    }
    rows.push({
      metric: 'agent turn, POST message → first text.delta on SSE, p50',
      ours: ms(percentile(firstDelta, 50)),
      baseline: `${ms(percentile(providerTtfb, 50))} (fake provider time to first byte)`,
      goal: 'overhead small against a real provider (≈ 300–1000 ms TTFB)',
    });
    rows.push({
      metric: 'agent turn, POST message → first text.delta on SSE, p99',
      ours: ms(percentile(firstDelta, 99)),
      baseline: `${ms(percentile(providerTtfb, 99))} (fake provider time to first byte)`,
      goal: '—',
    });
  } finally {
    await platform?.close();
    await fake.close();
  }
  return { title: 'Executions end to end (API → queue → worker → sandbox → SSE)', rows };
}

if (isMain(import.meta.url)) await runAlone(run);
