/**
 * Scenario 3 — worker chaos: many executions while a random worker is SIGKILLed at a fixed
 * interval and replaced. Pass: every execution reaches a terminal state within the stalled
 * interval plus its run time; none reports `execution.completed` twice; each script appends its
 * marker to a file, and every marker appears at most once in the file's final state (and, for a
 * succeeded execution, in the file or in a conflict copy of it: none is lost).
 */
import { Cluster, sleep } from '../cluster.js';
import { type ApiClient, createUser, followEvents, Recorder } from '../load.js';
import type { ScenarioContext, ScenarioResult } from './types.js';

const stalledIntervalMs = 3000;

export async function workerChaos({ short }: ScenarioContext): Promise<ScenarioResult> {
  const total = short ? 300 : 2000;
  // The short run's 300 executions take about 20 s: a kill every 3 s keeps several kills in it.
  const killEveryMs = short ? 3000 : 10_000;
  const userCount = 8;
  const cluster = new Cluster({
    apis: 1,
    workers: 3,
    env: { QUEUE_STALLED_INTERVAL_MS: String(stalledIntervalMs) },
  });
  const recorder = new Recorder();
  const problems: string[] = [];
  await cluster.start();
  const started = Date.now();
  let kills = 0;
  try {
    const users = await Promise.all(
      Array.from({ length: userCount }, (_, i) =>
        createUser(cluster.url, cluster.adminToken, recorder, `chaos-${i}`),
      ),
    );
    let stopKilling = false;
    const killer = (async () => {
      while (!stopKilling) {
        await sleep(killEveryMs);
        if (stopKilling) break;
        const victim = cluster.workers[Math.floor(Math.random() * cluster.workers.length)];
        if (!victim) continue;
        cluster.kill(victim);
        kills++;
        cluster.workers.push(await cluster.spawn('worker'));
      }
    })();

    // Submit at a steady pace from every user; each script appends its marker to one file.
    const submitted: { client: ApiClient; id: string; marker: string; createdAt: number }[] = [];
    const perUser = Math.ceil(total / userCount);
    await Promise.all(
      users.map(async (client, u) => {
        for (let i = 0; i < perUser && u * perUser + i < total; i++) {
          const marker = `m-${u}-${i}`;
          const created = await client.call(
            'POST',
            '/executions',
            {
              language: 'javascript',
              code: `const fs = require('node:fs');
fs.appendFileSync('ids.txt', input.marker + '\\n');
await new Promise((r) => setTimeout(r, 20));
return input.marker;`,
              input: { marker },
            },
            { expect: [202] },
          );
          if (created)
            submitted.push({
              client,
              id: (created.json as { id: string }).id,
              marker,
              createdAt: Date.now(),
            });
          await sleep(short ? 10 : 20);
        }
      }),
    );

    // Wait for every execution to end: stalled interval + run time + queue backlog.
    const finished = new Map<string, { status: string; finishedAt: number }>();
    const waitDeadline = Date.now() + (short ? 180_000 : 600_000);
    while (finished.size < submitted.length && Date.now() < waitDeadline) {
      for (const s of submitted) {
        if (finished.has(s.id)) continue;
        const got = await s.client.call('GET', `/executions/${s.id}`);
        const status = (got?.json as { status?: string } | undefined)?.status;
        if (status && !['queued', 'running'].includes(status))
          finished.set(s.id, { status, finishedAt: Date.now() });
      }
      if (finished.size < submitted.length) await sleep(1000);
    }
    stopKilling = true;
    await killer;

    const stuck = submitted.filter((s) => !finished.has(s.id));
    if (stuck.length > 0) problems.push(`${stuck.length} executions never ended, e.g. ${stuck[0]?.id}`);
    const byStatus: Record<string, number> = {};
    for (const f of finished.values()) byStatus[f.status] = (byStatus[f.status] ?? 0) + 1;

    // Completed at most once: count terminal events in each stream (a sample in full mode).
    const sample = short ? submitted : submitted.filter((_, i) => i % 4 === 0);
    let doubleCompletions = 0;
    for (const s of sample) {
      const followed = await followEvents(s.client, s.id, 10_000);
      const completed = followed.events.filter((e) => e.type === 'execution.completed').length;
      if (completed > 1) doubleCompletions++;
      problems.push(...followed.problems.map((p) => `${s.id}: ${p}`));
    }
    if (doubleCompletions > 0) problems.push(`${doubleCompletions} executions completed more than once`);

    // Each marker at most once in each user's final file, and none lost: an append made while
    // another execution of the user changed the file is kept in a conflict copy beside it.
    let duplicateMarkers = 0;
    let markersInFiles = 0;
    let conflictCopies = 0;
    const markersFound = new Set<string>();
    for (const client of users) {
      const listed = await client.call('GET', '/files?prefix=workspace/');
      const paths = ((listed?.json as { items?: { path: string }[] } | undefined)?.items ?? [])
        .map((f) => f.path)
        .filter(
          (p) =>
            p === 'workspace/ids.txt' || /^workspace\/ids \(conflict [0-9a-f]{8}(?:-\d+)?\)\.txt$/.test(p),
        );
      for (const filePath of paths) {
        const file = await client.call('GET', `/files/${encodeURI(filePath)}`);
        if (file?.status !== 200) continue;
        const lines = file.bytes.toString().split('\n').filter(Boolean);
        if (filePath === 'workspace/ids.txt') markersInFiles += lines.length;
        else conflictCopies++;
        duplicateMarkers += lines.length - new Set(lines).size;
        for (const line of lines) markersFound.add(line);
      }
    }
    if (duplicateMarkers > 0) problems.push(`${duplicateMarkers} markers appear more than once in a file`);
    const succeeded = submitted.filter((s) => finished.get(s.id)?.status === 'succeeded');
    const markersLost = succeeded.filter((s) => !markersFound.has(s.marker)).length;
    if (markersLost > 0)
      problems.push(
        `${markersLost} succeeded executions left their marker in no file, e.g. ${succeeded.find((s) => !markersFound.has(s.marker))?.id}`,
      );

    return {
      name: 'worker chaos',
      passed: problems.length === 0 && recorder.failures.length === 0 && submitted.length === total,
      figures: {
        executions: submitted.length,
        workerKills: kills,
        ...Object.fromEntries(Object.entries(byStatus).map(([k, v]) => [`status_${k}`, v])),
        neverEnded: stuck.length,
        completedTwice: doubleCompletions,
        markersInFiles,
        conflictCopies,
        markersLost,
        duplicateMarkers,
        failedRequests: recorder.failures.length,
        durationSeconds: Math.round((Date.now() - started) / 1000),
      },
      problems: [...recorder.failures.map((f) => `${f.what}: ${f.detail}`), ...problems].slice(0, 20),
    };
  } finally {
    await cluster.stop();
  }
}
