/**
 * Scenario 6 — soak: mixed load at a steady rate; after warm-up the RSS of the API and of a
 * worker must not grow by more than 10 %, and their open file descriptors must not leak.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Cluster, type Instance, sleep } from '../cluster.js';
import { createUser, followEvents, Recorder, randomFile } from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

/**
 * RSS and fds from /proc; the V8 heap in use and the memory of Buffers outside it (external) from
 * the process's own /metrics (API and worker both serve it): RSS growing with both flat points at
 * the allocator, not at a leak of JavaScript objects.
 */
async function sample(
  instance: Instance,
): Promise<{ rssMb: number; fds: number; heapMb: number; externalMb: number }> {
  const pid = instance.process.pid!;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const text = await fetch(`http://127.0.0.1:${instance.port}/metrics`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.text())
    .catch(() => '');
  const megabytes = (metric: string) => {
    // The name is followed by its labels (`{service="worker"}`) or by the value.
    const line = text.split('\n').find((l) => l.startsWith(metric) && ' {'.includes(l[metric.length]!));
    return Math.round(Number(line?.split(' ').at(-1) ?? Number.NaN) / 1024 / 1024);
  };
  return {
    rssMb: rss,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    heapMb: megabytes('nodejs_heap_size_used_bytes'),
    externalMb: megabytes('nodejs_external_memory_bytes'),
  };
}

export async function soak({ short, modelUrl }: ScenarioContext): Promise<ScenarioResult> {
  const durationMs = short ? 120_000 : 15 * 60_000;
  const warmupMs = short ? 40_000 : 3 * 60_000;
  const cluster = new Cluster({
    apis: 1,
    workers: 1,
    env: { ANTHROPIC_API_KEY: 'fake-key', ANTHROPIC_BASE_URL: `${modelUrl}/v1`, MODEL_PROVIDER: 'anthropic' },
  });
  const recorder = new Recorder();
  const problems: string[] = [];
  await cluster.start();
  try {
    const client = await createUser(cluster.url, cluster.adminToken, recorder, 'soak');
    const session = await client.call('POST', '/sessions', { title: 'soak' }, { expect: [201] });
    const api = cluster.apis[0]!;
    const worker = cluster.workers[0]!;
    type Sample = Awaited<ReturnType<typeof sample>>;
    const samples: { at: number; api: Sample; worker: Sample }[] = [];
    const started = Date.now();
    let stop = false;
    let operations = 0;
    const sampler = (async () => {
      while (!stop) {
        const at = Date.now() - started;
        const [a, w] = await Promise.all([sample(api), sample(worker)]);
        samples.push({ at, api: a, worker: w });
        await sleep(5000);
      }
    })();
    // Steady rate: one operation every 100 ms from a few clients.
    const clients = [0, 1, 2].map(async (k) => {
      let n = 0;
      while (!stop) {
        const t = Date.now();
        n++;
        if (n % 4 === 0) {
          const created = await client.call(
            'POST',
            '/executions',
            { language: 'javascript', code: `console.log(${n}); return ${n}` },
            { expect: [202] },
          );
          if (created) await followEvents(client, (created.json as { id: string }).id, 30_000);
        } else if (n % 4 === 1 && session) {
          const posted = await client.call(
            'POST',
            `/sessions/${(session.json as { id: string }).id}/messages`,
            { text: `soak ${k} ${n}` },
            { expect: [202] },
          );
          if (posted)
            await followEvents(client, (posted.json as { execution: { id: string } }).execution.id, 30_000);
        } else if (n % 4 === 2) {
          await client.call('PUT', `/files/uploads/soak-${k}-${n % 20}.bin`, undefined, {
            raw: randomFile(32_768).bytes,
            expect: [201],
          });
        } else {
          await client.call('GET', '/sessions');
        }
        operations++;
        await sleep(Math.max(0, 300 - (Date.now() - t)));
        if (Date.now() - started > durationMs) stop = true;
      }
    });
    await Promise.all(clients);
    await sampler;

    const afterWarmup = samples.filter((s) => s.at >= warmupMs);
    const first = afterWarmup[0];
    const last = afterWarmup.at(-1);
    const growth = (a: number, b: number) => Math.round(((b - a) / a) * 1000) / 10;
    const figures: Record<string, number | string> = {};
    // The course of memory, one point a minute (RSS/heap/external in MB), to tell a leak from
    // lazy growth.
    const perMinute = samples.filter((_, i) => i % 12 === 0);
    const course = (m: Sample) => `${Math.round(m.rssMb)}/${m.heapMb}/${m.externalMb}`;
    figures.apiRssHeapExternalPerMinute = perMinute.map((s) => course(s.api)).join(' ');
    figures.workerRssHeapExternalPerMinute = perMinute.map((s) => course(s.worker)).join(' ');
    if (first && last) {
      figures.apiRssAfterWarmupMb = Math.round(first.api.rssMb);
      figures.apiRssEndMb = Math.round(last.api.rssMb);
      const apiGrowth = growth(first.api.rssMb, last.api.rssMb);
      figures.apiRssGrowthPct = apiGrowth;
      figures.workerRssAfterWarmupMb = Math.round(first.worker.rssMb);
      figures.workerRssEndMb = Math.round(last.worker.rssMb);
      const workerGrowth = growth(first.worker.rssMb, last.worker.rssMb);
      figures.workerRssGrowthPct = workerGrowth;
      figures.apiHeapAfterWarmupMb = first.api.heapMb;
      figures.apiHeapEndMb = last.api.heapMb;
      figures.workerHeapAfterWarmupMb = first.worker.heapMb;
      figures.workerHeapEndMb = last.worker.heapMb;
      figures.apiFdsStart = first.api.fds;
      figures.apiFdsEnd = last.api.fds;
      figures.workerFdsStart = first.worker.fds;
      figures.workerFdsEnd = last.worker.fds;
      if (apiGrowth > 10) problems.push(`API RSS grew ${apiGrowth} %`);
      if (workerGrowth > 10) problems.push(`worker RSS grew ${workerGrowth} %`);
      if (last.api.fds > first.api.fds + 20) problems.push(`API fds ${first.api.fds} → ${last.api.fds}`);
      if (last.worker.fds > first.worker.fds + 20)
        problems.push(`worker fds ${first.worker.fds} → ${last.worker.fds}`);
    } else problems.push('not enough samples');
    return {
      name: 'soak',
      passed: problems.length === 0 && recorder.failures.length === 0,
      figures: {
        minutes: Math.round(durationMs / 60_000),
        operations,
        failedRequests: recorder.failures.length,
        ...figures,
      },
      problems: [...recorder.failures.map((f) => `${f.what}: ${f.detail}`), ...problems].slice(0, 20),
    };
  } finally {
    await cluster.stop();
  }
}
