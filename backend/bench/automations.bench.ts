/**
 * Automations: schedule fire lateness (tick → `execution.started`) over 200 ticks, beside a bare
 * Node timer aimed at the same whole seconds; and webhook delivery latency (→ 202, and → result
 * with `?wait`) for a no-op run, beside a bare Fastify route that verifies the same HMAC — all in
 * one run. Run: `npx tsx backend/bench/automations.bench.ts`.
 *
 * Distributed mode (PostgreSQL + BullMQ/Redis), one API replica with its schedule runner and one
 * worker runtime whose executor returns at once (the worker's whole lifecycle — queue, rows,
 * events — without a sandbox; sandbox figures are in executions.bench.ts). Knobs:
 * BENCH_SCHEDULE_TICKS (200), BENCH_WEBHOOK_SAMPLES (300).
 */
import Fastify from 'fastify';
import { type ApiServer, startApiServer } from '../src/api/index.js';
import { signatureHeaderValue, verifySignature } from '../src/automations/signature.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { createServices } from '../src/platform.js';
import { migrate } from '../src/store/index.js';
import { startWorkerRuntime } from '../src/worker/index.js';
import { freshPostgresDatabase, freshRedisPrefix, redisUrl } from '../test/support/services.js';
import { type BenchRow, type BenchTable, isMain, ms, percentile, runAlone, sleep } from './lib.js';

const ticks = Number(process.env.BENCH_SCHEDULE_TICKS ?? 200);
const webhookSamples = Number(process.env.BENCH_WEBHOOK_SAMPLES ?? 300);
/** Per-second schedules side by side, so 200 ticks take 50 s instead of 200. */
const parallelSchedules = 4;

/** How late a plain `setTimeout` aimed at each whole second fires, over `count` seconds. */
async function bareTimerLateness(count: number): Promise<number[]> {
  const late: number[] = [];
  while (late.length < count) {
    const target = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    await sleep(target - Date.now());
    late.push(Date.now() - target);
  }
  return late;
}

async function post(url: string, body: string, secret: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ipa-signature': signatureHeaderValue(secret, body) },
    body,
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

export async function run(): Promise<BenchTable> {
  const database = await freshPostgresDatabase();
  const config = loadConfig('api', {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: freshRedisPrefix(),
    LOG_LEVEL: 'silent',
    USER_CONCURRENCY: '100',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
  });
  const services = await createServices(config, { logger: createLogger('silent') });
  await migrate(services.store.db);
  const worker = startWorkerRuntime({
    services,
    executors: [{ kind: 'script', run: async () => ({ status: 'succeeded', result: null }) }],
  });
  let server: ApiServer | undefined;
  const bare = Fastify();
  const rows: BenchRow[] = [];
  try {
    server = await startApiServer(services, { host: '127.0.0.1', port: 0 });
    const { store } = services;
    const user = await store.users.create({ name: 'bench' });

    // Schedule lateness.
    const scheduledIds: string[] = [];
    const automation = await store.automations.create(user.id, {
      name: 'tick',
      language: 'javascript',
      code: 'noop',
    });
    const firstTick = Math.ceil(Date.now() / 1000) * 1000 + 2000;
    for (let i = 0; i < parallelSchedules; i++) {
      const schedule = await store.schedules.create(user.id, automation.id, {
        cron: '* * * * * *',
        timeZone: 'UTC',
        enabled: true,
        overlap: 'allow',
        catchUp: 'skip',
        nextFireAt: new Date(firstTick).toISOString(),
      });
      scheduledIds.push(schedule!.id);
    }
    const seconds = Math.ceil(ticks / parallelSchedules);
    const timer = bareTimerLateness(seconds);
    await sleep(firstTick - Date.now() + seconds * 1000 + 1500);
    for (const id of scheduledIds) await store.schedules.delete(user.id, automation.id, id);
    const timerLate = await timer;
    const runs = await store.db.query<{ late: number; admitted: number }>(
      `SELECT extract(epoch FROM started_at - scheduled_for) * 1000 AS late,
              extract(epoch FROM created_at - scheduled_for) * 1000 AS admitted FROM executions
        WHERE automation_id = $1 AND started_at IS NOT NULL ORDER BY scheduled_for LIMIT $2`,
      [automation.id, ticks],
    );
    const lateness = runs.rows.map((r) => Number(r.late));
    const admitted = runs.rows.map((r) => Number(r.admitted));
    rows.push(
      {
        metric: `schedule tick → execution.started, p50 (${lateness.length} ticks)`,
        ours: ms(percentile(lateness, 50)),
        baseline: `${ms(percentile(timerLate, 50))} (bare setTimeout at the second)`,
        goal: '—',
      },
      {
        metric: 'of which tick → run row written (scheduler), p50 / p99',
        ours: `${ms(percentile(admitted, 50))} / ${ms(percentile(admitted, 99))}`,
        baseline: '—',
        goal: '—',
      },
      {
        metric: `schedule tick → execution.started, p99 (${lateness.length} ticks)`,
        ours: ms(percentile(lateness, 99)),
        baseline: `${ms(percentile(timerLate, 99))} (bare setTimeout at the second)`,
        goal: '< 1 s',
      },
    );

    // Webhooks.
    const hooked = await store.automations.create(user.id, {
      name: 'hook',
      language: 'javascript',
      code: 'noop',
    });
    const secret = 'whsec_bench-secret-0123456789abcdef';
    const trigger = await store.webhooks.create(user.id, hooked.id, { name: 'bench', secret });
    bare.removeAllContentTypeParsers();
    bare.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    bare.post('/hooks/:id', async (request, reply) => {
      const header = request.headers['x-ipa-signature'];
      const check = verifySignature(
        typeof header === 'string' ? header : undefined,
        secret,
        request.body as Buffer,
      );
      return reply.code(check.ok ? 202 : 401).send({ ok: check.ok });
    });
    const bareUrl = `${await bare.listen({ host: '127.0.0.1', port: 0 })}/hooks/${trigger!.id}`;
    const hookUrl = `${server.url}/hooks/${trigger!.id}`;
    const measure = async (url: string, samples: number, expect: number) => {
      const times: number[] = [];
      for (let i = 0; i < samples + 20; i++) {
        // A distinct body each time: the same signature twice would be a replay.
        const result = await post(url, JSON.stringify({ i, at: performance.now() }), secret);
        if (result.status !== expect) throw new Error(`${url}: answered ${result.status}`);
        if (i >= 20) times.push(result.ms);
      }
      return times;
    };
    const bareTimes = await measure(bareUrl, webhookSamples, 202);
    const accepted = await measure(hookUrl, webhookSamples, 202);
    const waited = await measure(`${hookUrl}?wait=10`, Math.ceil(webhookSamples / 3), 200);
    for (const [label, times] of [
      ['webhook → 202', accepted],
      ['webhook → result (?wait)', waited],
    ] as const) {
      for (const p of [50, 99]) {
        rows.push({
          metric: `${label}, p${p}`,
          ours: ms(percentile(times, p)),
          baseline: `${ms(percentile(bareTimes, p))} (bare Fastify + same HMAC check)`,
          goal: '—',
        });
      }
    }
  } finally {
    await bare.close();
    await server?.drain();
    await worker.stop(1000);
    await services.close();
    await database.drop();
  }
  return { title: 'Automations: schedule lateness and webhook latency', rows };
}

if (isMain(import.meta.url)) await runAlone(run);
