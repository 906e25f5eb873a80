/**
 * Egress: a proxied HTTPS GET from a warm sandbox (JavaScript `fetch` → the egress socket → the
 * worker-side proxy → TLS to a loopback echo server) against the same GET made directly by the
 * worker process (same keep-alive TLS agent settings); p50/p99 added latency, and requests/s of 16
 * parallel streams both ways. Run: `npx tsx backend/bench/egress.bench.ts`.
 * Knobs: BENCH_EGRESS_SAMPLES (500), BENCH_EGRESS_SECONDS (3).
 */
import https from 'node:https';
import type { EgressContext } from '../src/egress/proxy.js';
import { createSandboxOrchestrator, detectIsolation } from '../src/sandbox/index.js';
import { contextFor, startEchoServers, testProxy } from '../test/egress/support.js';
import { makeRoot, removeRoot, testOptions } from '../test/sandbox/support.js';
import { type BenchTable, isMain, ms, percentile, perSecond, runAlone } from './lib.js';

const samples = Number(process.env.BENCH_EGRESS_SAMPLES ?? 500);
const seconds = Number(process.env.BENCH_EGRESS_SECONDS ?? 3);

export async function run(): Promise<BenchTable> {
  const servers = await startEchoServers();
  const { proxy } = testProxy(servers.ca, { maxConnections: 64 });
  const level = (await detectIsolation()).level;
  const root = await makeRoot();
  const pool = await createSandboxOrchestrator({ ...testOptions(root, level), egress: proxy });
  const url = `https://api.test:${servers.httpsPort}/bench`;
  const user = '00000000-0000-4000-8000-0000000000be';
  const context: EgressContext = contextFor(user, `api.test:${servers.httpsPort}`);
  try {
    const lease = await pool.acquire(user);
    const inSandbox = async (code: string) => {
      const out = await lease.run({ language: 'javascript', code, timeoutMs: 120_000, egress: context });
      if (out.exitCode !== 0) throw new Error(`bench script failed (${out.exitCode})`);
      return out.result as never;
    };
    // Warm-up, then one GET at a time.
    await inSandbox(`for (let i = 0; i < 50; i++) await (await fetch('${url}')).text();`);
    const proxied: number[] = await inSandbox(
      `const t = []; for (let i = 0; i < ${samples}; i++) { const s = performance.now(); await (await fetch('${url}')).text(); t.push(performance.now() - s); } return t;`,
    );
    const proxiedRate: number = await inSandbox(
      `let n = 0; const end = performance.now() + ${seconds * 1000};
       await Promise.all(Array.from({ length: 16 }, async () => { while (performance.now() < end) { await (await fetch('${url}')).text(); n++; } }));
       return n / ${seconds};`,
    );
    lease.release();

    const agent = new https.Agent({ keepAlive: true, ca: servers.ca });
    const direct = () =>
      new Promise<void>((resolve, reject) => {
        const req = https.request(url, {
          agent,
          lookup: (_h, _o, cb) =>
            (cb as (e: null, a: unknown) => void)(null, [{ address: '127.0.0.1', family: 4 }]),
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < 50; i++) await direct();
    const directTimes: number[] = [];
    for (let i = 0; i < samples; i++) {
      const s = performance.now();
      await direct();
      directTimes.push(performance.now() - s);
    }
    let n = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < end) {
          await direct();
          n++;
        }
      }),
    );
    agent.destroy();
    const directRate = n / seconds;
    const p = (values: number[], q: number) => percentile(values, q);
    const rows = [
      {
        metric: `GET p50 (${level}, ${samples} sequential)`,
        ours: ms(p(proxied, 50)),
        baseline: `${ms(p(directTimes, 50))} direct`,
        goal: '—',
      },
      {
        metric: 'GET p99',
        ours: ms(p(proxied, 99)),
        baseline: `${ms(p(directTimes, 99))} direct`,
        goal: '—',
      },
      {
        metric: 'added latency p50',
        ours: ms(p(proxied, 50) - p(directTimes, 50)),
        baseline: '0 (direct)',
        goal: '< 2 ms',
      },
      {
        metric: 'added latency p99',
        ours: ms(p(proxied, 99) - p(directTimes, 99)),
        baseline: '0 (direct)',
        goal: '—',
      },
      {
        metric: '16 parallel streams',
        ours: perSecond(proxiedRate),
        baseline: `${perSecond(directRate)} direct`,
        goal: '—',
      },
    ];
    const table = { title: 'Egress proxy: HTTPS GET from a warm sandbox vs direct from the worker', rows };
    return table;
  } finally {
    await pool.shutdown();
    await proxy.shutdown();
    await servers.close();
    await removeRoot(root);
  }
}

if (isMain(import.meta.url)) await runAlone(run);
