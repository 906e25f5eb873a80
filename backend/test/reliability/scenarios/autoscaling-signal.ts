/**
 * Scenario 7 — autoscaling signal. Under a load step, the queue-depth metric that drives worker
 * scaling (KEDA) and the API's CPU must reflect the load within 15 s, and the HPA algorithm
 * (desired = ceil(current × metric / target), with the chart's scale-up policy, every 15 s),
 * simulated on the scraped figures, must reach the target replica count within 60 s.
 * This checks the signal, not Kubernetes itself.
 */
import { Cluster, sleep } from '../cluster.js';
import { createUser, Recorder } from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

// The chart's defaults (helm/ipa-platform/values.yaml): KEDA target 5 waiting jobs per worker,
// API CPU target 70 % of a 250m request, 2–10 replicas, scale-up by up to 100 % or 4 pods per 15 s.
const workerJobsPerReplica = 5;
const apiCpuRequestCores = 0.25;
const apiCpuTarget = 0.7;
const minReplicas = 2;
const maxReplicas = 10;

function hpaStep(current: number, metric: number, target: number): number {
  const desired = Math.ceil(current * (metric / target));
  const allowed = Math.max(current * 2, current + 4);
  return Math.min(maxReplicas, Math.max(minReplicas, Math.min(desired, allowed)));
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels ? `{` : ''}`) && l.includes(labels));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

export async function autoscalingSignal(_: ScenarioContext): Promise<ScenarioResult> {
  const cluster = new Cluster({ apis: 2, workers: 2, env: { WORKER_CONCURRENCY: '2' } });
  const recorder = new Recorder();
  const problems: string[] = [];
  await cluster.start();
  try {
    // The step comes from 8 users: one user alone would meet its own concurrency limit
    // (USER_CONCURRENCY, a correct 429) long before the queue shows a backlog worth scaling for.
    const users = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        createUser(cluster.url, cluster.adminToken, recorder, `autoscale-${i}`),
      ),
    );
    const client = users[0]!;
    const api = cluster.apis[0]!;
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${api.port}/metrics`)).text();
      return {
        waiting: metricValue(text, 'ipa_queue_depth', 'state="waiting"'),
        cpuSeconds: metricValue(text, 'process_cpu_seconds_total'),
      };
    };
    const baseline = await scrape();
    const stepAt = Date.now();
    let stop = false;
    // The step: a burst of one-second executions and steady read traffic on the API.
    const submit = users.map(async (user) => {
      for (let i = 0; i < 50 && !stop; i++) {
        await user.call(
          'POST',
          '/executions',
          { language: 'javascript', code: 'await new Promise((r) => setTimeout(r, 1000));' },
          { expect: [202] },
        );
      }
    });
    const readers = Array.from({ length: 16 }, async () => {
      while (!stop) await client.call('GET', '/sessions');
    });

    const series: { t: number; waiting: number; cpuUtil: number; cpuWindowUtil: number }[] = [];
    let previous = { ...baseline, at: stepAt };
    const cpuHistory: { at: number; cpuSeconds: number }[] = [
      { at: stepAt, cpuSeconds: baseline.cpuSeconds },
    ];
    let queueSeenAt: number | undefined;
    let cpuSeenAt: number | undefined;
    let workerReplicas = minReplicas;
    let apiReplicas = minReplicas;
    let workerTarget = minReplicas;
    let apiTarget = minReplicas;
    let workerReachedAt: number | undefined;
    let apiReachedAt: number | undefined;
    let nextSync = 15_000;
    while (Date.now() - stepAt < 75_000) {
      await sleep(1000);
      const now = await scrape();
      const at = Date.now();
      const cpuUtil =
        (now.cpuSeconds - previous.cpuSeconds) / ((at - previous.at) / 1000) / apiCpuRequestCores;
      previous = { ...now, at };
      // The HPA never sees a one-second spike: metrics-server reports CPU averaged over a window
      // (15 s here, its default resolution), so the replica target and every simulated sync use
      // that average. The 1 s figure only says how fast the signal moves.
      cpuHistory.push({ at, cpuSeconds: now.cpuSeconds });
      while ((cpuHistory[0]?.at ?? at) < at - 15_000) cpuHistory.shift();
      const oldest = cpuHistory[0]!;
      const cpuWindowUtil =
        at > oldest.at
          ? (now.cpuSeconds - oldest.cpuSeconds) / ((at - oldest.at) / 1000) / apiCpuRequestCores
          : cpuUtil;
      const t = at - stepAt;
      series.push({ t, waiting: now.waiting, cpuUtil, cpuWindowUtil });
      if (queueSeenAt === undefined && now.waiting >= workerJobsPerReplica * minReplicas) queueSeenAt = t;
      if (cpuSeenAt === undefined && cpuUtil > apiCpuTarget) cpuSeenAt = t;
      if (t >= nextSync) {
        nextSync += 15_000;
        // The targets are the replica counts the load asks for at the syncs, where the HPA reads
        // the metrics; a peak between two syncs is never seen by it.
        workerTarget = Math.max(
          workerTarget,
          Math.min(maxReplicas, Math.ceil(now.waiting / workerJobsPerReplica)),
        );
        apiTarget = Math.max(
          apiTarget,
          Math.min(maxReplicas, Math.ceil(minReplicas * (cpuWindowUtil / apiCpuTarget))),
        );
        // KEDA's AverageValue: the metric per current replica against the per-replica target.
        // The chart's scale-down stabilisation window (≥ 300 s) keeps replicas up during the test.
        workerReplicas = Math.max(
          workerReplicas,
          hpaStep(workerReplicas, now.waiting / workerReplicas, workerJobsPerReplica),
        );
        apiReplicas = Math.max(
          apiReplicas,
          hpaStep(apiReplicas, cpuWindowUtil * (minReplicas / apiReplicas), apiCpuTarget),
        );
        if (workerReachedAt === undefined && workerReplicas >= workerTarget) workerReachedAt = t;
        if (apiReachedAt === undefined && apiReplicas >= apiTarget) apiReachedAt = t;
      }
    }
    stop = true;
    await Promise.all([...submit, ...readers]);
    if (queueSeenAt === undefined || queueSeenAt > 15_000)
      problems.push(`queue depth did not reflect the step within 15 s (${queueSeenAt})`);
    if (cpuSeenAt === undefined || cpuSeenAt > 15_000)
      problems.push(`API CPU did not reflect the step within 15 s (${cpuSeenAt})`);
    if (workerReachedAt === undefined || workerReachedAt > 60_000)
      problems.push(`worker HPA simulation did not reach ${workerTarget} within 60 s`);
    if (apiReachedAt === undefined || apiReachedAt > 60_000)
      problems.push(`API HPA simulation did not reach ${apiTarget} within 60 s`);
    const peak = series.reduce((m, s) => Math.max(m, s.waiting), 0);
    return {
      name: 'autoscaling signal',
      passed: problems.length === 0 && recorder.failures.length === 0,
      figures: {
        queueDepthReflectedAfterS: (queueSeenAt ?? Number.NaN) / 1000,
        apiCpuReflectedAfterS: (cpuSeenAt ?? Number.NaN) / 1000,
        peakWaiting: peak,
        peakApiCpuUtilPct: Math.round(series.reduce((m, s) => Math.max(m, s.cpuUtil), 0) * 100),
        peakApiCpuUtil15sPct: Math.round(series.reduce((m, s) => Math.max(m, s.cpuWindowUtil), 0) * 100),
        workerTargetReplicas: workerTarget,
        workerReachedAfterS: (workerReachedAt ?? Number.NaN) / 1000,
        apiTargetReplicas: apiTarget,
        apiReachedAfterS: (apiReachedAt ?? Number.NaN) / 1000,
        failedRequests: recorder.failures.length,
      },
      problems: [...recorder.failures.map((f) => `${f.what}: ${f.detail}`), ...problems].slice(0, 20),
    };
  } finally {
    await cluster.stop();
  }
}
