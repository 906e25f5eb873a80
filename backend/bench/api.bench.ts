/**
 * API: requests/s and latency of `GET /health/live` and of an authenticated `GET /api/v1/sessions`,
 * beside a bare Fastify hello-world and (for the sessions page) bare Fastify + `pg` running the same
 * query on a pool of the same size, measured in the same run; and append → SSE delivery latency
 * over Redis Streams through the real HTTP endpoint. Run: `npx tsx backend/bench/api.bench.ts`.
 *
 * The API runs in distributed mode (PostgreSQL + Redis, Redis-backed rate limits, info-level
 * request logs written to /dev/null) as a replica would; load comes from an autocannon worker
 * thread so it does not share the server's event loop. Knobs: BENCH_API_SECONDS (8),
 * BENCH_API_CONNECTIONS (50), BENCH_API_POOL (PostgreSQL pool size, 10), BENCH_SSE_SAMPLES (1000).
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { type ApiServer, startApiServer } from '../src/api/index.js';
import { loadConfig } from '../src/config/index.js';
import { createServices } from '../src/platform.js';
import type { Services } from '../src/services.js';
import { migrate } from '../src/store/index.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../test/support/services.js';
import { type BenchRow, type BenchTable, isMain, ms, percentile, perSecond, runAlone } from './lib.js';

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  workers?: number;
  headers?: Record<string, string>;
}) => Promise<AutocannonResult>;

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as Autocannon;

const durationSeconds = Number(process.env.BENCH_API_SECONDS ?? 8);
const connections = Number(process.env.BENCH_API_CONNECTIONS ?? 50);
const sseSamples = Number(process.env.BENCH_SSE_SAMPLES ?? 1000);
const poolSize = Number(process.env.BENCH_API_POOL ?? 10);

async function load(url: string, headers: Record<string, string> = {}): Promise<AutocannonResult> {
  // A short warm-up (JIT, connection pools), then the measured run.
  await autocannon({ url, connections, duration: 2, workers: 1, headers });
  const result = await autocannon({ url, connections, duration: durationSeconds, workers: 1, headers });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return result;
}

async function bareFastify(): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/`, close: () => app.close() };
}

/**
 * The fair baseline of `GET /api/v1/sessions`: bare Fastify and a `pg` pool of the same size
 * running the store's page query (same SQL, same parameters, same JSON shape of the rows), with
 * no authentication, rate limit, security headers, metrics or logging.
 */
async function barePgSessions(
  databaseUrl: string,
  poolSize: number,
  userId: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  const app = Fastify({ logger: false });
  app.get('/sessions', async () => {
    const { rows } = await pool.query(
      'SELECT id, user_id, title, created_at, updated_at FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
      [userId, 51],
    );
    const items = rows.slice(0, 50).map((row) => ({
      id: row.id,
      userId: row.user_id,
      title: row.title,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    }));
    return { items, nextCursor: null };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/sessions`,
    close: async () => {
      await app.close();
      await pool.end();
    },
  };
}

/**
 * One SSE client follows an execution; each sample appends an event and times its arrival at the
 * client (append round trip + blocked read wake-up + HTTP write + client read).
 */
async function sseDelivery(server: ApiServer, services: Services, token: string): Promise<number[]> {
  const user = await services.store.tokens.authenticate(token);
  if (!user) throw new Error('bench token does not authenticate');
  const execution = await services.store.executions.create({
    userId: user.user.id,
    kind: 'script',
    input: { language: 'javascript', code: '1' },
  });
  const waiting = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  let buffer = '';
  const request = http.get(`${server.url}/api/v1/executions/${execution.id}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
  });
  await new Promise<void>((resolve, reject) => {
    request.on('error', reject);
    request.on('response', (response) => {
      if (response.statusCode !== 200) reject(new Error(`SSE answered ${response.statusCode}`));
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const id = /^id: (.+)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (id) {
            const resolveSample = waiting.get(id);
            if (resolveSample) resolveSample(at);
            else early.set(id, at);
          }
          end = buffer.indexOf('\n\n');
        }
      });
      resolve();
    });
  });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < sseSamples + 100; i++) {
      const started = performance.now();
      const id = await services.events.append(execution.id, 'text.delta', { text: 'x', attempt: 1 });
      const arrived =
        early.get(id) ??
        (await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`event ${id} never arrived`)), 5000);
          waiting.set(id, (at) => {
            clearTimeout(timer);
            resolve(at);
          });
        }));
      waiting.delete(id);
      early.delete(id);
      // The first 100 warm the path up.
      if (i >= 100) latencies.push(arrived - started);
    }
  } finally {
    request.destroy();
  }
  return latencies;
}

/** The same append → delivery through the EventLog alone (no HTTP): what SSE adds on top. */
async function eventLogDelivery(services: Services, executionId: string): Promise<number[]> {
  let after = await services.events.append(executionId, 'execution.queued', {});
  const latencies: number[] = [];
  for (let i = 0; i < sseSamples + 100; i++) {
    const reading = services.events.read(executionId, after, { blockMs: 5000 });
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    after = await services.events.append(executionId, 'text.delta', { text: 'x', attempt: 1 });
    await reading;
    if (i >= 100) latencies.push(performance.now() - started);
  }
  return latencies;
}

export async function run(): Promise<BenchTable> {
  const database = await freshPostgresDatabase();
  const config = loadConfig('api', {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: freshRedisPrefix(),
    RATE_LIMIT_PER_MINUTE: '1000000',
    DATABASE_POOL_SIZE: String(poolSize),
    LOG_LEVEL: 'info',
  });
  const logger = pino({ level: 'info' }, pino.destination('/dev/null'));
  const services = await createServices(config, { logger });
  const bare = await bareFastify();
  let server: ApiServer | undefined;
  try {
    await migrate(services.store.db);
    server = await startApiServer(services, { host: '127.0.0.1', port: 0, version: 'bench' });
    const user = await services.store.users.create({ name: 'bench' });
    const { token } = await services.store.tokens.issue(user.id, 'bench');
    for (let i = 0; i < 20; i++) await services.store.sessions.create(user.id, `Session ${i}`);
    const auth = { authorization: `Bearer ${token}` };

    const barePg = await barePgSessions(database.url, poolSize, user.id);
    const bareResult = await load(bare.url);
    const live = await load(`${server.url}/health/live`);
    const barePgResult = await load(barePg.url);
    const sessions = await load(`${server.url}/api/v1/sessions`, auth);
    await barePg.close();
    const sse = await sseDelivery(server, services, token);
    const direct = await eventLogDelivery(
      services,
      (
        await services.store.executions.create({
          userId: user.id,
          kind: 'script',
          input: { language: 'javascript', code: '1' },
        })
      ).id,
    );

    const share = (sessions.requests.average / barePgResult.requests.average) * 100;
    const liveShare = (live.requests.average / bareResult.requests.average) * 100;
    const rows: BenchRow[] = [
      {
        metric: 'GET /health/live requests/s',
        ours: `${perSecond(live.requests.average)} (${liveShare.toFixed(0)} % of bare)`,
        baseline: `${perSecond(bareResult.requests.average)} (bare Fastify hello-world)`,
        goal: '≥ 60 % of bare',
      },
      {
        metric: 'GET /health/live p50 / p99',
        ours: `${ms(live.latency.p50)} / ${ms(live.latency.p99)}`,
        baseline: `${ms(bareResult.latency.p50)} / ${ms(bareResult.latency.p99)}`,
        goal: '—',
      },
      {
        metric: 'GET /api/v1/sessions (authenticated) requests/s',
        ours: `${perSecond(sessions.requests.average)} (${share.toFixed(0)} % of bare + pg)`,
        baseline: `${perSecond(barePgResult.requests.average)} (bare Fastify + pg, same query and pool size ${poolSize})`,
        goal: '≥ 80 % of bare + pg',
      },
      {
        metric: 'GET /api/v1/sessions p50 / p99',
        ours: `${ms(sessions.latency.p50)} / ${ms(sessions.latency.p99)}`,
        baseline: `${ms(barePgResult.latency.p50)} / ${ms(barePgResult.latency.p99)} (bare Fastify + pg)`,
        goal: '—',
      },
      {
        metric: 'append → SSE client (Redis Streams, HTTP) p50',
        ours: ms(percentile(sse, 50)),
        baseline: `${ms(percentile(direct, 50))} (EventLog reader, no HTTP)`,
        goal: '—',
      },
      {
        metric: 'append → SSE client (Redis Streams, HTTP) p99',
        ours: ms(percentile(sse, 99)),
        baseline: `${ms(percentile(direct, 99))} (EventLog reader, no HTTP)`,
        goal: '< 10 ms',
      },
    ];
    return {
      title: `API (${connections} connections, ${durationSeconds} s per run; PostgreSQL + Redis)`,
      rows,
    };
  } finally {
    await server?.drain();
    await bare.close();
    await services.close();
    await database.drop();
  }
}

if (isMain(import.meta.url)) await runAlone(run);
